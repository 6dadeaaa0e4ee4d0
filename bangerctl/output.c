/*
 * Output helpers: durations, sizes, and JSON for --json.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bangerctl.h"

const char *
fmt_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600,
		    (s % 3600) / 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400,
		    (s % 86400) / 3600);
	return buf;
}

const char *
fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double	 v = bytes;
	int	 u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else if (v == (uint64_t)v)
		snprintf(buf, len, "%" PRIu64 " %s", (uint64_t)v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

void
json_print(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(j);
}

/*
 * A progress bar on stderr (a terminal's): "WHAT [####  ] 42% 1.2G of
 * 3.0G", redrawn in place.  The caller ends the line when it is done.
 */
void
progress_bar(const char *what, uint64_t done, uint64_t total)
{
	char		 b1[32], b2[32], bar[PROGRESS_WIDTH + 1];
	uint64_t	 pct;
	int		 fill, i;

	pct = total ? done * 100 / total : 100;
	if (pct > 100)
		pct = 100;
	fill = pct * PROGRESS_WIDTH / 100;
	for (i = 0; i < PROGRESS_WIDTH; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[PROGRESS_WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3" PRIu64 "%% %s of %s\033[K", what, bar,
	    pct, fmt_size(done, b1, sizeof(b1)), fmt_size(total, b2,
	    sizeof(b2)));
	fflush(stderr);
}

const char *
worker_state_name(int state)
{
	switch (state) {
	case WORKER_STARTING:
		return "starting";
	case WORKER_RUNNING:
		return "running";
	case WORKER_RESTARTING:
		return "restarting";
	}
	return "unknown";
}
