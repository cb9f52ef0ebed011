/* The dataplane's config file on arbitrary text: the INI reader
 * (common/ini.c), every key's setter and the cross-key checks. Each must
 * refuse with a message or accept; a refusal of the file's text names the
 * file. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dp_config cfg;
	struct st_ini *ini;
	struct st_perr err;

	ini = st_ini_parse((const char *)data, size, "f.ini", &err);
	if (ini == NULL) {
		if (strncmp(err.msg, "f.ini:", 6) != 0)
			abort();
		return 0;
	}
	dp_config_defaults(&cfg);
	err.msg[0] = '\0';
	if (dp_config_apply(&cfg, ini, &err) != 0) {
		if (strncmp(err.msg, "f.ini:", 6) != 0)
			abort();
	} else if (dp_config_validate(&cfg, &err) != 0 && err.msg[0] == '\0') {
		abort();
	}
	st_ini_free(ini);
	return 0;
}
