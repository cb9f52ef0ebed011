/* EAL arguments rewritten before the EAL reads them. Plain C: no DPDK. */
#ifndef ST_VDEV_H
#define ST_VDEV_H

/* af_packet ring frames that carry whole what a Linux interface hands
 * over: the DPDK af_packet PMD copies each ring frame into one mbuf (data
 * room at most 65535 less its 128-byte headroom) and addresses frame i at
 * i * framesz, so frames must divide blocks; 15 pages is the largest such
 * frame, and it holds a frame of 61440 - ST_AFP_FRAME_HDR = 61374 bytes
 * (the kernel starts the packet ST_AFP_FRAME_HDR bytes in). The PMD's
 * receive queue wants framesz - ST_AFP_FRAME_MBUF_OFF bytes of data room
 * in each mbuf. */
#define ST_AFP_FRAME 61440
#define ST_AFP_FRAME_DEFAULT 2048
#define ST_AFP_FRAME_HDR 66
#define ST_AFP_FRAME_MBUF_OFF 32
/* Frames per ring when sizing them (the PMD's default is 512): 256 of
 * ST_AFP_FRAME bytes are 15 MiB per ring, 30 per queue (RX and TX). With
 * 512 the e2e timing test saw the shadow's 20 ms answers come 2-4 ms late
 * in about one run of five (host work around 60 MiB of locked,
 * high-order ring memory per port, not understood further); with 256 and
 * 128, in none of 18. */
#define ST_AFP_FRAMECNT 256

/* Devices st_vdev_size_af_packet rewrites at most, and their length. */
#define ST_VDEV_MAX 32
#define ST_VDEV_LEN 512

/* Every af_packet device in argv[1..argc) ("--vdev X" or "--vdev=X", named
 * net_af_packet* or eth_af_packet*) that sets neither framesz nor blocksz
 * gets ",framesz=F,blocksz=F" with F = framesz (a multiple of the page
 * size), and ",framecnt=ST_AFP_FRAMECNT" unless it sets framecnt: its strings are replaced in argv by static ones that live as long
 * as the program (the EAL may keep them). Returns how many were sized, or
 * -ENOMEM past ST_VDEV_MAX devices or a string of ST_VDEV_LEN. Costs a scan
 * of argv; not thread-safe (called once, before the EAL). */
int st_vdev_size_af_packet(int argc, char **argv, unsigned int framesz);

/* framesz= of an af_packet device string, or ST_AFP_FRAME_DEFAULT when it
 * sets none. Never fails. */
unsigned int st_vdev_af_packet_framesz(const char *devargs);

#endif
