/*
 * Unit tests for bangerctl's JSON writer (bangerctl/output.c, jw_*):
 * byte for byte what jansson's json_dumpf writes with JSON_INDENT(2) |
 * JSON_PRESERVE_ORDER, which vm ls --json printed before it wrote its
 * listing as it went.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bangerctl/bangerctl.h"
#include "regress.h"

/* What jansson dumps of j (which it frees). */
static char *
jansson(json_t *j)
{
	char	*s;

	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return (s);
}

/* Run fn with a jw on a memory stream: what it wrote. */
static char *
written(void (*fn)(struct jw *, const void *), const void *arg)
{
	struct jw	 jw;
	char		*s = NULL;
	size_t		 len = 0;

	memset(&jw, 0, sizeof(jw));
	if ((jw.jw_fp = open_memstream(&s, &len)) == NULL)
		exit(1);
	fn(&jw, arg);
	jw_flush(&jw);
	jw_free(&jw);
	fclose(jw.jw_fp);
	return (s);
}

static void
check(const char *name, char *got, char *want)
{
	T_CHECK(name, got != NULL && want != NULL && strcmp(got, want) == 0,
	    "wrote \"%s\", jansson \"%s\"", got ? got : "(null)",
	    want ? want : "(null)");
	free(got);
	free(want);
}

/* Every ASCII character but NUL, in a string, in an array. */
static char	 ascii[128];

static void
w_ascii(struct jw *jw, const void *arg)
{
	jw_open(jw, '[');
	jw_next(jw);
	jw_str(jw, arg, strlen(arg));
	jw_close(jw, ']');
}

static void
w_empty(struct jw *jw, const void *arg)
{
	jw_open(jw, '[');
	jw_next(jw);
	jw_open(jw, '{');
	jw_close(jw, '}');
	jw_next(jw);
	jw_open(jw, '[');
	jw_close(jw, ']');
	jw_close(jw, ']');
}

/* Objects in an array in an object, as a VM's information has them. */
static void
w_nested(struct jw *jw, const void *arg)
{
	int	 i;

	jw_open(jw, '[');
	for (i = 0; i < 2; i++) {
		jw_next(jw);
		jw_open(jw, '{');
		jw_key(jw, "name");
		jw_str(jw, "web", 3);
		jw_key(jw, "error");
		jw_null(jw);
		jw_key(jw, "disk_bytes");
		jw_int(jw, 4294967296LL);
		jw_key(jw, "pid");
		jw_int(jw, -1);
		jw_key(jw, "publish");
		jw_open(jw, '[');
		jw_next(jw);
		jw_str(jw, "8080:80/tcp", 64);
		jw_next(jw);
		jw_str(jw, "5353:53/udp", 64);
		jw_close(jw, ']');
		jw_key(jw, "none");
		jw_open(jw, '[');
		jw_close(jw, ']');
		jw_close(jw, '}');
	}
	jw_close(jw, ']');
}

static json_t *
nested_json(void)
{
	json_t	*arr, *o;
	int	 i;

	arr = json_array();
	for (i = 0; i < 2; i++) {
		o = json_pack("{s:s, s:n, s:I, s:I, s:[s, s], s:[]}",
		    "name", "web", "error", "disk_bytes",
		    (json_int_t)4294967296LL, "pid", (json_int_t)-1,
		    "publish", "8080:80/tcp", "5353:53/udp", "none");
		json_array_append_new(arr, o);
	}
	return (arr);
}

static void
w_ints(struct jw *jw, const void *arg)
{
	jw_open(jw, '[');
	jw_next(jw);
	jw_int(jw, 0);
	jw_next(jw);
	jw_int(jw, INT64_MIN);
	jw_next(jw);
	jw_int(jw, INT64_MAX);
	jw_next(jw);
	jw_int(jw, 300000);
	jw_close(jw, ']');
}

/* A string longer than its field stops at the field. */
static void
w_bounded(struct jw *jw, const void *arg)
{
	jw_str(jw, arg, 4);
}

int
main(void)
{
	int	 i;

	for (i = 1; i < 128; i++)
		ascii[i - 1] = i;
	check("jsonw: every ASCII character escaped as jansson does",
	    written(w_ascii, ascii), jansson(json_pack("[s]", ascii)));
	check("jsonw: empty object and array",
	    written(w_empty, NULL), jansson(json_pack("[{}, []]")));
	check("jsonw: objects, arrays, null, integers, indented",
	    written(w_nested, NULL), jansson(nested_json()));
	check("jsonw: integers, the largest and smallest too",
	    written(w_ints, NULL), jansson(json_pack("[I, I, I, I]",
	    (json_int_t)0, (json_int_t)INT64_MIN, (json_int_t)INT64_MAX,
	    (json_int_t)300000)));
	check("jsonw: a string stops at its field's size",
	    written(w_bounded, "abcdefgh"), strdup("\"abcd\""));
	T_CHECK("jsonw: ASCII is told from the rest",
	    jw_ascii("plain text", 64) && jw_ascii("abc\0\xff", 5) &&
	    !jw_ascii("caf\xc3\xa9", 64) && jw_ascii("caf\xc3\xa9", 3),
	    "jw_ascii wrong");
	return (t_done());
}
