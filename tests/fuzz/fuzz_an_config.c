/* The analyzer's INI reader and config on arbitrary text: it must refuse
 * with a message that names the file and line, or accept, and then every
 * section and key it kept must point inside its own copy of the text. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

#include "config.h"
#include "fuzz.h"
#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_ini *ini;
	struct st_perr err;
	struct an_config c;
	size_t tlen;

	ini = st_ini_parse((const char *)data, size, "f.ini", &err);
	if (ini == NULL) {
		if (strncmp(err.msg, "f.ini:", 6) != 0)
			abort();
		return 0;
	}
	tlen = size + 1;
	for (size_t i = 0; i < ini->n_entries; i++) {
		const struct st_ini_entry *e = &ini->entries[i];

		if (e->key < ini->text || e->key >= ini->text + tlen ||
		    e->value < ini->text || e->value >= ini->text + tlen || e->line < 1)
			abort();
	}
	/* Feed the kept keys through the config setters. */
	an_config_defaults(&c);
	for (size_t s = 0; s < ini->n_sections; s++) {
		const struct st_ini_section *sec = &ini->sections[s];

		for (size_t i = sec->first; i < sec->first + sec->n; i++) {
			struct an_plan p;

			an_plan_defaults(&p);
			if (strcmp(sec->name, "analyzer") == 0)
				an_config_set(&c, ini->entries[i].key, ini->entries[i].value, &err);
			else
				an_plan_set(&p, ini->entries[i].key, ini->entries[i].value, &err);
		}
	}
	an_config_check(&c, &err);
	an_config_free(&c);
	st_ini_free(ini);
	return 0;
}
