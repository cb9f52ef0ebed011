/* A chaos scenario's text as a control client sends it (dataplane/
 * chaos_scenario.c, dp_scenario_parse) on arbitrary bytes, against two
 * groups, one with instances: it must load, every line's group known and
 * times in order, or refuse with a message naming the text's name. */
#include <stdlib.h>
#include <string.h>

#include "chaos_scenario.h"
#include "config.h"
#include "fuzz.h"
#include "ini.h"

static const char cfg_text[] =
	"[dataplane]\n"
	"[shadow.canary]\nport = 2\nshare = 1\n"
	"instances = 198.18.1.10@02:00:00:00:00:0a, 198.18.1.11@02:00:00:00:00:0b\n"
	"[shadow.other]\nport = 3\nshare = 0.5\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dp_config cfg;
	static int ready;
	struct dp_scenario s;
	char why[400] = "";

	if (!ready) {
		struct st_perr err;
		struct st_ini *ini = st_ini_parse(cfg_text, sizeof(cfg_text) - 1, "c.ini", &err);

		if (ini == NULL)
			abort();
		dp_config_defaults(&cfg);
		if (dp_config_apply(&cfg, ini, &err) != 0 || dp_config_validate(&cfg, &err) != 0)
			abort();
		st_ini_free(ini);
		ready = 1;
	}
	memset(&s, 0x5a, sizeof(s));
	if (dp_scenario_parse(&s, "f.csv", (const char *)data, size, &cfg, NULL, why,
			      sizeof(why)) != 0) {
		if (strncmp(why, "f.csv", 5) != 0)
			abort();
		return 0;
	}
	for (uint32_t i = 0; i < s.n; i++)
		if (s.lines[i].group < 0 || s.lines[i].group >= cfg.n_shadows ||
		    (i > 0 && s.lines[i].t_ns < s.lines[i - 1].t_ns))
			abort();
	if (s.next != 0 || strcmp(s.path, "f.csv") != 0)
		abort();
	dp_scenario_free(&s);
	return 0;
}
