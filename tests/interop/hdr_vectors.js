#!/usr/bin/env node
// Cross-checks shadowtap's HdrHistogram V2 encoding against hdr-histogram-js
// (plain JS, no WebAssembly).
//
//   node hdr_vectors.js gen    JSON array, one vector per line: histograms
//                              hdr-histogram-js built from the value sets
//                              below, their compressed base64 and stats.
//   node hdr_vectors.js specs  the same value sets as text for hist_tool:
//                              "name lowest highest sigfigs v:c v:c ...".
//   node hdr_vectors.js check  reads vectors in the gen format (from
//                              hist_tool gen) on stdin; decodes each with
//                              hdr-histogram-js and checks the stats claimed,
//                              and, for a known value set, that every bucket
//                              count equals what hdr-histogram-js records.
//
// Values stay below 2^53: JS numbers are doubles.
"use strict";

const hdr = require("hdr-histogram-js");

const HOUR_NS = 3600e9;

// xorshift32: deterministic, and exact in JS integer arithmetic.
function rng(seed) {
	let x = seed >>> 0 || 1;
	return () => {
		x ^= x << 13;
		x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5;
		x >>>= 0;
		return x / 4294967296;
	};
}

// Latency-like: log-normal around `median` ns, clipped to 1..cap.
function lognormal(seed, n, median, sigma, cap) {
	const r = rng(seed);
	const out = [];
	for (let i = 0; i < n; i++) {
		// Box-Muller from two uniforms in (0, 1].
		const u1 = 1 - r();
		const u2 = r();
		const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
		let v = Math.round(median * Math.exp(sigma * z));
		out.push([Math.min(Math.max(v, 1), cap), 1]);
	}
	return out;
}

function uniform(seed, n, lo, hi) {
	const r = rng(seed);
	const out = [];
	for (let i = 0; i < n; i++)
		out.push([lo + Math.floor(r() * (hi - lo + 1)), 1]);
	return out;
}

function decades(maxExp) {
	const out = [];
	for (let e = 0; e <= maxExp; e++)
		out.push([Math.pow(10, e), e + 1]);
	return out;
}

// name, lowest, highest, sigfigs, [[value, count], ...]
function specs() {
	const s = [
		["empty", 1, HOUR_NS, 3, []],
		["single", 1, HOUR_NS, 3, [[123456, 1]]],
		["zeros", 1, 1e6, 2, [[0, 5], [7, 1]]],
		["tiny_range", 1, 2, 1, [[0, 1], [1, 2], [2, 3]]],
		["uniform_1e6_s3", 1, HOUR_NS, 3, uniform(7, 5000, 1, 1e6)],
		["decades_s2", 1, Math.pow(2, 50), 2, decades(15)],
		["near_highest", 1, 1e9, 3,
			[[1e9, 3], [1e9 - 1, 2], [999000000, 1], [5e8, 1], [1, 1]]],
		["lowest_1000", 1000, HOUR_NS, 3, lognormal(11, 1000, 2e6, 1.5, HOUR_NS)],
		["lowest_3", 3, 1e8, 2, uniform(13, 500, 0, 1e8)],
		["lowest_1024", 1024, 1e12, 4, lognormal(17, 1000, 5e7, 2, 1e12)],
		["large_counts", 1, HOUR_NS, 3,
			[[1e12, 1e15], [5e11, 2e15], [250000, 123456789012], [1, 3]]],
	];
	for (let sf = 1; sf <= 4; sf++)
		s.push([`lognormal_s${sf}`, 1, HOUR_NS, sf,
			lognormal(100 + sf, 2000, 2e5, 1, HOUR_NS)]);
	// 5 digits needs 2^18 sub-buckets: 1 ns..10 ms is the widest range
	// within shadowtap's decode limit of 2^20 counts.
	s.push(["lognormal_s5", 1, 1e7, 5, lognormal(105, 2000, 2e5, 1, 1e7)]);
	return s.map(([name, lowest, highest, sigfigs, values]) =>
		({ name, lowest, highest, sigfigs, values }));
}

function build(spec) {
	const h = hdr.build({
		lowestDiscernibleValue: spec.lowest,
		highestTrackableValue: spec.highest,
		numberOfSignificantValueDigits: spec.sigfigs,
		bitBucketSize: 64,
		autoResize: false,
		useWebAssembly: false,
	});
	for (const [v, c] of spec.values)
		h.recordValueWithCount(v, c);
	return h;
}

// p0 and p100 are HdrHistogram's min and max in the form shadowtap reports
// them: the extreme buckets' lowest and highest equivalent values.
function stats(h) {
	return {
		bucket_count: h.bucketCount,
		sub_bucket_count: h.subBucketCount,
		counts_len: h.countsArrayLength,
		count: h.totalCount,
		min: h.totalCount ? h.getValueAtPercentile(0) : 0,
		max: h.totalCount ? h.getValueAtPercentile(100) : 0,
		mean: h.mean,
		stddev: h.stdDeviation,
		p50: h.getValueAtPercentile(50),
		p90: h.getValueAtPercentile(90),
		p99: h.getValueAtPercentile(99),
		p999: h.getValueAtPercentile(99.9),
	};
}

const EXACT = ["bucket_count", "sub_bucket_count", "counts_len", "count",
	"min", "max", "p50", "p90", "p99", "p999"];
const CLOSE = ["mean", "stddev"];

function close(a, b) {
	return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function compare(what, got, want) {
	const bad = [];
	for (const k of EXACT)
		if (got[k] !== want[k])
			bad.push(`${what} ${k}: ${got[k]} != ${want[k]}`);
	for (const k of CLOSE)
		if (!close(got[k], want[k]))
			bad.push(`${what} ${k}: ${got[k]} != ${want[k]}`);
	return bad;
}

function gen() {
	const lines = specs().map((spec) => {
		const h = build(spec);
		const v = Object.assign({ name: spec.name, lowest: spec.lowest,
			highest: spec.highest, sigfigs: spec.sigfigs }, stats(h),
			{ b64: h.encodeIntoCompressedBase64() });
		return JSON.stringify(v);
	});
	process.stdout.write("[\n" + lines.join(",\n") + "\n]\n");
}

function printSpecs() {
	for (const s of specs()) {
		const vals = s.values.map(([v, c]) => `${v}:${c}`).join(" ");
		process.stdout.write(`${s.name} ${s.lowest} ${s.highest} ${s.sigfigs}` +
			(vals ? " " + vals : "") + "\n");
	}
}

function readStdin() {
	return require("fs").readFileSync(0, "utf8");
}

function check() {
	const text = readStdin().trim();
	const vectors = text.startsWith("[") ? JSON.parse(text) :
		text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
	const known = new Map(specs().map((s) => [s.name, s]));
	let passed = 0, failed = 0;

	for (const v of vectors) {
		let bad = [];
		try {
			const d = hdr.decodeFromCompressedBase64(v.b64, 64, false);
			if (d.lowestDiscernibleValue !== v.lowest ||
			    d.highestTrackableValue !== v.highest ||
			    d.numberOfSignificantValueDigits !== v.sigfigs)
				bad.push("layout parameters differ");
			bad = bad.concat(compare("decoded vs claimed", stats(d), v));
			const spec = known.get(v.name);
			if (spec) {
				const own = build(spec);
				bad = bad.concat(compare("decoded vs own", stats(d), stats(own)));
				for (let i = 0; i < own.countsArrayLength; i++) {
					if (d.getCountAtIndex(i) !== own.getCountAtIndex(i)) {
						bad.push(`count at index ${i}: ${d.getCountAtIndex(i)} != ${own.getCountAtIndex(i)}`);
						break;
					}
				}
			}
		} catch (e) {
			bad.push(`decode failed: ${e.message}`);
		}
		if (bad.length) {
			failed++;
			console.log(`FAIL ${v.name}: ${bad.join("; ")}`);
		} else {
			passed++;
			console.log(`ok   ${v.name}`);
		}
	}
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed || passed === 0 ? 1 : 0);
}

const mode = process.argv[2];
if (mode === "gen")
	gen();
else if (mode === "specs")
	printSpecs();
else if (mode === "check")
	check();
else {
	console.error("usage: hdr_vectors.js gen|specs|check");
	process.exit(2);
}
