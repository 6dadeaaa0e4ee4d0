/*
 * Output helpers: durations, sizes, and JSON for --json.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * JSON written as it goes, byte for byte as json_dumpf(3) writes it
 * with JSON_INDENT(2) | JSON_PRESERVE_ORDER, without building it first:
 * jansson spends some 10 us on each VM of a listing, most of it
 * checking UTF-8.  Strings must be ASCII (jw_ascii says); anything
 * else goes through jansson.  The text collects in jw_buf, written
 * out by jw_flush (and by jw_close of the outermost container).
 */
static void
jw_grow(struct jw *jw, size_t len)
{
	char	*nb;
	size_t	 size;

	size = jw->jw_size ? jw->jw_size : 4096;
	while (len > size - jw->jw_len)
		size *= 2;
	if ((nb = realloc(jw->jw_buf, size)) == NULL)
		err(1, NULL);
	jw->jw_buf = nb;
	jw->jw_size = size;
}

static inline void
jw_add(struct jw *jw, const char *s, size_t len)
{
	if (len > jw->jw_size - jw->jw_len)
		jw_grow(jw, len);
	memcpy(jw->jw_buf + jw->jw_len, s, len);
	jw->jw_len += len;
}

static void
jw_indent(struct jw *jw)
{
	static const char	 nl[] = "\n                ";
	int			 n = jw->jw_depth * 2;

	jw_add(jw, nl, 1);
	for (; n > 0; n -= sizeof(nl) - 2)
		jw_add(jw, nl + 1, n < (int)sizeof(nl) - 2 ? n :
		    (int)sizeof(nl) - 2);
}

/* Write out what was written so far. */
void
jw_flush(struct jw *jw)
{
	if (jw->jw_len > 0 &&
	    fwrite(jw->jw_buf, 1, jw->jw_len, jw->jw_fp) != jw->jw_len)
		err(1, "write");
	jw->jw_len = 0;
}

void
jw_free(struct jw *jw)
{
	free(jw->jw_buf);
	jw->jw_buf = NULL;
	jw->jw_len = jw->jw_size = 0;
}

/* Start a container, '{' or '[', as the next value. */
void
jw_open(struct jw *jw, char c)
{
	if (jw->jw_depth >= JW_DEPTH)
		abort();
	jw_add(jw, &c, 1);
	jw->jw_n[jw->jw_depth++] = 0;
}

/* Before the next element (or member: jw_key). */
void
jw_next(struct jw *jw)
{
	if (jw->jw_n[jw->jw_depth - 1]++ > 0)
		jw_add(jw, ",", 1);
	jw_indent(jw);
}

void
jw_close(struct jw *jw, char c)
{
	if (jw->jw_n[--jw->jw_depth] > 0)
		jw_indent(jw);
	jw_add(jw, &c, 1);
	if (jw->jw_depth == 0)
		jw_flush(jw);
}

/* Text as it is, for a value jansson dumped (jw_next first). */
void
jw_raw(struct jw *jw, const char *s, size_t len)
{
	jw_add(jw, s, len);
}

/* At most max bytes of s, up to a NUL, as jansson dumps them. */
void
jw_str(struct jw *jw, const char *s, size_t max)
{
	char		 esc[8];
	size_t		 i, run;
	unsigned char	 c;

	jw_add(jw, "\"", 1);
	for (i = run = 0; i < max && s[i] != '\0'; i++) {
		c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_add(jw, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
		case '\\':
			esc[0] = '\\';
			esc[1] = c;
			jw_add(jw, esc, 2);
			break;
		case '\b':
			jw_add(jw, "\\b", 2);
			break;
		case '\f':
			jw_add(jw, "\\f", 2);
			break;
		case '\n':
			jw_add(jw, "\\n", 2);
			break;
		case '\r':
			jw_add(jw, "\\r", 2);
			break;
		case '\t':
			jw_add(jw, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			jw_add(jw, esc, 6);
		}
	}
	jw_add(jw, s + run, i - run);
	jw_add(jw, "\"", 1);
}

/*
 * A member: its key, then the caller writes the value.  Keys are the
 * caller's own words: nothing in them to escape.
 */
void
jw_key(struct jw *jw, const char *key)
{
	jw_next(jw);
	jw_add(jw, "\"", 1);
	jw_add(jw, key, strlen(key));
	jw_add(jw, "\": ", 3);
}

void
jw_int(struct jw *jw, int64_t v)
{
	char		 b[24], *p = b + sizeof(b);
	uint64_t	 u;

	u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	jw_add(jw, p, b + sizeof(b) - p);
}

void
jw_null(struct jw *jw)
{
	jw_add(jw, "null", 4);
}

/* Are the first max bytes of s, up to a NUL, ASCII? */
int
jw_ascii(const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; i < max && s[i] != '\0'; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
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
	case WORKER_IDLE:
		return "idle";
	}
	return "unknown";
}
