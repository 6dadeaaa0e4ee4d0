/*
 * fc-standin: a request-body decoder that fails the way Firecracker's
 * does.  Firecracker reads each body with serde_json into a struct that
 * denies unknown fields; a client sees serde's message ("unknown field
 * `x`, expected one of ...", "missing field `y`", "EOF while parsing a
 * value", ...) with the line and column where serde stopped.  This
 * decoder walks the text the same way, stops where serde stops and
 * builds a jansson object of the fields it read.
 *
 * Test infrastructure: included by fc-standin.c only.
 */
#ifndef FC_STANDIN_SERDE_H
#define FC_STANDIN_SERDE_H

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SD_MAXDEPTH	128		/* serde_json's recursion limit */

enum sd_kind {
	SD_STR,			/* String */
	SD_PATH,		/* PathBuf */
	SD_BOOL,
	SD_U8,
	SD_U16,
	SD_U32,
	SD_U64,
	SD_USIZE,
	SD_ENUM,		/* unit variants; aux is struct sd_enum */
	SD_STRUCT,		/* aux is struct sd_struct */
	SD_ANY,			/* serde_json::Value */
	SD_STRVEC,		/* Vec<String> */
	SD_STRUCTVEC,		/* Vec<T>, T a struct: aux is struct sd_struct */
	SD_MAC,			/* MacAddr, a string */
	SD_IPV4			/* Ipv4Addr, a string */
};

#define SD_OPT		0x01	/* Option<T>: may be null or absent */
#define SD_DEF		0x02	/* #[serde(default)]: may be absent */

struct sd_field {
	const char	*name;
	enum sd_kind	 kind;
	int		 flags;
	const void	*aux;
};

struct sd_struct {
	const char		*name;		/* for "expected struct X" */
	const struct sd_field	*fields;	/* ends with a NULL name */
	int			 unknown_ok;	/* no deny_unknown_fields */
};

struct sd_enum {
	const char * const	*variants;	/* ends with NULL */
	int			 nocase;	/* match ignoring case */
};

struct sd {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	int			 depth;
	int			 failed;
	int			 positioned;
	size_t			 errpos;
	char			 msg[1024];
};

enum sd_numkind { SDN_U64, SDN_I64, SDN_F64 };

struct sd_num {
	enum sd_numkind	 kind;
	uint64_t	 u;
	int64_t		 i;
	double		 f;
};

static void sd_verr(struct sd *, int, size_t, const char *, va_list)
    __attribute__((__format__ (printf, 4, 0)));
static void sd_err(struct sd *, const char *, ...)
    __attribute__((__format__ (printf, 2, 3)));
static void sd_cerr(struct sd *, const char *, ...)
    __attribute__((__format__ (printf, 2, 3)));
static void sd_perr(struct sd *, const char *, ...)
    __attribute__((__format__ (printf, 2, 3)));
static json_t	*sd_struct(struct sd *, const struct sd_struct *);
static json_t	*sd_any(struct sd *);

static void
sd_verr(struct sd *p, int positioned, size_t at, const char *fmt, va_list ap)
{
	if (p->failed)
		return;
	p->failed = 1;
	p->positioned = positioned;
	p->errpos = at > p->len ? p->len : at;
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
}

/* An error serde raises without a position; the caller fixes one. */
static void
sd_err(struct sd *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sd_verr(p, 0, 0, fmt, ap);
	va_end(ap);
}

/* An error at what was consumed so far (serde's Deserializer::error). */
static void
sd_cerr(struct sd *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sd_verr(p, 1, p->pos, fmt, ap);
	va_end(ap);
}

/* An error at the byte being peeked at (serde's peek_error). */
static void
sd_perr(struct sd *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sd_verr(p, 1, p->pos + 1, fmt, ap);
	va_end(ap);
}

/* serde's fix_position: give a position-less error the current one. */
static void
sd_fix(struct sd *p)
{
	if (p->failed && !p->positioned) {
		p->positioned = 1;
		p->errpos = p->pos;
	}
}

/* The error as serde_json prints it, "msg at line L column C". */
static void
sd_format(const struct sd *p, char *out, size_t outsz)
{
	size_t	i, line = 1, col = 0;

	if (!p->positioned) {
		snprintf(out, outsz, "%s", p->msg);
		return;
	}
	for (i = 0; i < p->errpos; i++) {
		if (p->buf[i] == '\n') {
			line++;
			col = 0;
		} else
			col++;
	}
	snprintf(out, outsz, "%s at line %zu column %zu", p->msg, line, col);
}

static void
sd_ws(struct sd *p)
{
	while (p->pos < p->len && (p->buf[p->pos] == ' ' ||
	    p->buf[p->pos] == '\n' || p->buf[p->pos] == '\t' ||
	    p->buf[p->pos] == '\r'))
		p->pos++;
}

static int
sd_peek(struct sd *p)
{
	return p->pos < p->len ? p->buf[p->pos] : -1;
}

/* The rest of a literal after its first byte: "ull", "rue", "alse". */
static int
sd_ident(struct sd *p, const char *rest)
{
	for (; *rest != '\0'; rest++) {
		if (p->pos >= p->len) {
			sd_cerr(p, "EOF while parsing a value");
			return -1;
		}
		if (p->buf[p->pos++] != (unsigned char)*rest) {
			sd_cerr(p, "expected ident");
			return -1;
		}
	}
	return 0;
}

static int
sd_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
sd_hex4(struct sd *p, unsigned int *cp)
{
	int	i, v;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if (p->pos >= p->len) {
			sd_cerr(p, "EOF while parsing a string");
			return -1;
		}
		if ((v = sd_hexval(p->buf[p->pos++])) == -1) {
			sd_cerr(p, "invalid escape");
			return -1;
		}
		*cp = *cp * 16 + (unsigned int)v;
	}
	return 0;
}

static void
sd_utf8put(char *out, size_t *n, unsigned int cp)
{
	if (cp < 0x80)
		out[(*n)++] = (char)cp;
	else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int
sd_utf8ok(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, more;
	unsigned int	cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			more = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			more = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			more = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		for (k = 1; k <= more; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

/*
 * A string whose opening quote was consumed.  Returns a NUL-terminated
 * copy (escapes decoded) or NULL.  *lenp gets its length.
 */
static char *
sd_str(struct sd *p, size_t *lenp)
{
	char		*out;
	size_t		 n = 0;
	unsigned int	 cp, lo;
	int		 c;

	if ((out = malloc(p->len - p->pos + 1)) == NULL) {
		sd_cerr(p, "out of memory");
		return NULL;
	}
	for (;;) {
		if (p->pos >= p->len) {
			sd_cerr(p, "EOF while parsing a string");
			goto fail;
		}
		c = p->buf[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			p->pos++;
			sd_cerr(p, "control character (\\u0000-\\u001F) "
			    "found while parsing a string");
			goto fail;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			p->pos++;
			continue;
		}
		p->pos++;
		if (p->pos >= p->len) {
			sd_cerr(p, "EOF while parsing a string");
			goto fail;
		}
		c = p->buf[p->pos++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			out[n++] = (char)c;
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (sd_hex4(p, &cp) == -1)
				goto fail;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				sd_cerr(p, "lone leading surrogate in hex "
				    "escape");
				goto fail;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->pos + 1 >= p->len ||
				    p->buf[p->pos] != '\\' ||
				    p->buf[p->pos + 1] != 'u') {
					sd_cerr(p, "unexpected end of hex "
					    "escape");
					goto fail;
				}
				p->pos += 2;
				if (sd_hex4(p, &lo) == -1)
					goto fail;
				if (lo < 0xdc00 || lo > 0xdfff) {
					sd_cerr(p, "lone leading surrogate in "
					    "hex escape");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			if (cp == 0) {
				/* Keep the C string whole; rare enough. */
				cp = 0xfffd;
			}
			sd_utf8put(out, &n, cp);
			break;
		default:
			sd_cerr(p, "invalid escape");
			goto fail;
		}
	}
	if (!sd_utf8ok((const unsigned char *)out, n)) {
		sd_cerr(p, "invalid unicode code point");
		goto fail;
	}
	out[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return out;
fail:
	free(out);
	return NULL;
}

/* serde_json's number grammar, starting at '-' or a digit. */
static int
sd_number(struct sd *p, struct sd_num *num)
{
	size_t		 start = p->pos;
	int		 neg = 0, isfloat = 0, overflow = 0, c, digits;
	uint64_t	 sig = 0;
	char		 tmp[512];

	if (sd_peek(p) == '-') {
		neg = 1;
		p->pos++;
	}
	if (p->pos >= p->len) {
		sd_cerr(p, "EOF while parsing a value");
		return -1;
	}
	c = p->buf[p->pos++];
	if (c == '0') {
		if (sd_peek(p) >= '0' && sd_peek(p) <= '9') {
			sd_perr(p, "invalid number");
			return -1;
		}
	} else if (c >= '1' && c <= '9') {
		sig = (uint64_t)(c - '0');
		while ((c = sd_peek(p)) >= '0' && c <= '9') {
			if (sig > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
				overflow = 1;
			else
				sig = sig * 10 + (uint64_t)(c - '0');
			p->pos++;
		}
	} else {
		sd_cerr(p, "invalid number");
		return -1;
	}
	if (sd_peek(p) == '.') {
		p->pos++;
		isfloat = 1;
		digits = 0;
		while ((c = sd_peek(p)) >= '0' && c <= '9') {
			p->pos++;
			digits++;
		}
		if (digits == 0) {
			if (p->pos < p->len)
				sd_perr(p, "invalid number");
			else
				sd_perr(p, "EOF while parsing a value");
			return -1;
		}
	}
	if (sd_peek(p) == 'e' || sd_peek(p) == 'E') {
		p->pos++;
		isfloat = 1;
		if (sd_peek(p) == '+' || sd_peek(p) == '-')
			p->pos++;
		if (p->pos >= p->len) {
			sd_cerr(p, "EOF while parsing a value");
			return -1;
		}
		c = p->buf[p->pos++];
		if (c < '0' || c > '9') {
			sd_cerr(p, "invalid number");
			return -1;
		}
		while ((c = sd_peek(p)) >= '0' && c <= '9')
			p->pos++;
	}
	if (isfloat || overflow || (neg && sig > (uint64_t)INT64_MAX + 1)) {
		if (p->pos - start >= sizeof(tmp)) {
			sd_cerr(p, "number out of range");
			return -1;
		}
		memcpy(tmp, p->buf + start, p->pos - start);
		tmp[p->pos - start] = '\0';
		num->kind = SDN_F64;
		num->f = strtod(tmp, NULL);
		if (isinf(num->f)) {
			sd_cerr(p, "number out of range");
			return -1;
		}
	} else if (neg && sig != 0) {
		num->kind = SDN_I64;
		num->i = sig == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)sig;
	} else {
		num->kind = SDN_U64;
		num->u = sig;
		if (neg) {
			/* -0 is an integer zero to serde_json too */
			num->kind = SDN_I64;
			num->i = 0;
		}
	}
	return 0;
}

/* A float the way serde_json shows one (ryu: shortest, with ".0"). */
static void
sd_fmtfloat(double f, char *out, size_t outsz)
{
	char	tmp[64], exp[16], *e;
	int	prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	if ((e = strchr(tmp, 'e')) != NULL) {
		/* "1e+20" -> "1e20", "1e-07" -> "1e-7" */
		snprintf(exp, sizeof(exp), "e%d", atoi(e + 1));
		*e = '\0';
		strlcpy(out, tmp, outsz);
		strlcat(out, exp, outsz);
		return;
	}
	strlcpy(out, tmp, outsz);
	if (strpbrk(tmp, ".ni") == NULL)
		strlcat(out, ".0", outsz);
}

/* Rust's {:?} of a str, as serde puts it in "string \"...\"". */
static void
sd_debugstr(const char *s, char *out, size_t outsz)
{
	size_t	n = 0;
	char	esc[16];

	if (outsz < 8) {
		out[0] = '\0';
		return;
	}
	out[n++] = '"';
	for (; *s != '\0' && n + 12 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			memcpy(out + n, "\\\"", 2);
			n += 2;
			break;
		case '\\':
			memcpy(out + n, "\\\\", 2);
			n += 2;
			break;
		case '\n':
			memcpy(out + n, "\\n", 2);
			n += 2;
			break;
		case '\r':
			memcpy(out + n, "\\r", 2);
			n += 2;
			break;
		case '\t':
			memcpy(out + n, "\\t", 2);
			n += 2;
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u{%x}", c);
				memcpy(out + n, esc, strlen(esc));
				n += strlen(esc);
			} else
				out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* serde_json's peek_invalid_type: what is there instead of `exp`. */
static void
sd_invalid_type(struct sd *p, const char *exp)
{
	struct sd_num	 num;
	char		 what[1200], fl[64], *s;
	int		 c = sd_peek(p);

	switch (c) {
	case 'n':
		p->pos++;
		if (sd_ident(p, "ull") == -1)
			return;
		strlcpy(what, "null", sizeof(what));
		break;
	case 't':
		p->pos++;
		if (sd_ident(p, "rue") == -1)
			return;
		strlcpy(what, "boolean `true`", sizeof(what));
		break;
	case 'f':
		p->pos++;
		if (sd_ident(p, "alse") == -1)
			return;
		strlcpy(what, "boolean `false`", sizeof(what));
		break;
	case '"':
		p->pos++;
		if ((s = sd_str(p, NULL)) == NULL)
			return;
		{
			char	dbg[1100];

			sd_debugstr(s, dbg, sizeof(dbg));
			snprintf(what, sizeof(what), "string %s", dbg);
		}
		free(s);
		break;
	case '[':
		strlcpy(what, "sequence", sizeof(what));
		break;
	case '{':
		strlcpy(what, "map", sizeof(what));
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			if (sd_number(p, &num) == -1)
				return;
			if (num.kind == SDN_U64)
				snprintf(what, sizeof(what), "integer `%llu`",
				    (unsigned long long)num.u);
			else if (num.kind == SDN_I64)
				snprintf(what, sizeof(what), "integer `%lld`",
				    (long long)num.i);
			else {
				sd_fmtfloat(num.f, fl, sizeof(fl));
				snprintf(what, sizeof(what),
				    "floating point `%s`", fl);
			}
			break;
		}
		sd_perr(p, "expected value");
		return;
	}
	sd_cerr(p, "invalid type: %s, expected %s", what, exp);
}

/* serde's OneOf: "`a`", "`a` or `b`", "one of `a`, `b`, `c`". */
static void
sd_oneof(const char * const *names, char *out, size_t outsz)
{
	size_t	n, i;

	for (n = 0; names[n] != NULL; n++)
		;
	out[0] = '\0';
	if (n == 1)
		snprintf(out, outsz, "`%s`", names[0]);
	else if (n == 2)
		snprintf(out, outsz, "`%s` or `%s`", names[0], names[1]);
	else if (n > 2) {
		strlcpy(out, "one of ", outsz);
		for (i = 0; i < n; i++) {
			if (i > 0)
				strlcat(out, ", ", outsz);
			strlcat(out, "`", outsz);
			strlcat(out, names[i], outsz);
			strlcat(out, "`", outsz);
		}
	}
}

static json_t *
sd_string_value(struct sd *p, const char *exp)
{
	json_t	*v;
	char	*s;
	size_t	 n;

	sd_ws(p);
	if (sd_peek(p) == -1) {
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	}
	if (sd_peek(p) != '"') {
		sd_invalid_type(p, exp);
		return NULL;
	}
	p->pos++;
	if ((s = sd_str(p, &n)) == NULL)
		return NULL;
	v = json_stringn(s, n);
	free(s);
	return v;
}

static json_t *
sd_bool_value(struct sd *p)
{
	sd_ws(p);
	switch (sd_peek(p)) {
	case -1:
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	case 't':
		p->pos++;
		return sd_ident(p, "rue") == -1 ? NULL : json_true();
	case 'f':
		p->pos++;
		return sd_ident(p, "alse") == -1 ? NULL : json_false();
	default:
		sd_invalid_type(p, "a boolean");
		return NULL;
	}
}

static json_t *
sd_uint_value(struct sd *p, uint64_t max, const char *tname)
{
	struct sd_num	num;
	char		fl[64];
	int		c;

	sd_ws(p);
	c = sd_peek(p);
	if (c == -1) {
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	}
	if (c != '-' && (c < '0' || c > '9')) {
		sd_invalid_type(p, tname);
		return NULL;
	}
	if (sd_number(p, &num) == -1)
		return NULL;
	switch (num.kind) {
	case SDN_U64:
		if (num.u > max) {
			sd_cerr(p, "invalid value: integer `%llu`, expected %s",
			    (unsigned long long)num.u, tname);
			return NULL;
		}
		return json_integer(num.u > (uint64_t)INT64_MAX ?
		    INT64_MAX : (json_int_t)num.u);
	case SDN_I64:
		if (num.i == 0)
			return json_integer(0);
		sd_cerr(p, "invalid value: integer `%lld`, expected %s",
		    (long long)num.i, tname);
		return NULL;
	default:
		sd_fmtfloat(num.f, fl, sizeof(fl));
		sd_cerr(p, "invalid type: floating point `%s`, expected %s",
		    fl, tname);
		return NULL;
	}
}

static json_t *
sd_enum_value(struct sd *p, const struct sd_enum *en)
{
	char	*s, exp[512];
	size_t	 i;
	json_t	*v;

	sd_ws(p);
	if (sd_peek(p) == -1) {
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	}
	if (sd_peek(p) != '"') {
		sd_perr(p, "expected value");
		return NULL;
	}
	p->pos++;
	if ((s = sd_str(p, NULL)) == NULL)
		return NULL;
	for (i = 0; en->variants[i] != NULL; i++) {
		if ((en->nocase ? strcasecmp(s, en->variants[i]) :
		    strcmp(s, en->variants[i])) == 0) {
			v = json_string(en->variants[i]);
			free(s);
			return v;
		}
	}
	sd_oneof(en->variants, exp, sizeof(exp));
	sd_cerr(p, "unknown variant `%s`, expected %s", s, exp);
	free(s);
	return NULL;
}

/* A Vec<String>, or a Vec of the struct st. */
static json_t *
sd_vec_value(struct sd *p, const struct sd_struct *st)
{
	json_t	*arr, *v;
	int	 first = 1, c;

	sd_ws(p);
	if (sd_peek(p) == -1) {
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	}
	if (sd_peek(p) != '[') {
		sd_invalid_type(p, "a sequence");
		return NULL;
	}
	p->pos++;
	arr = json_array();
	for (;;) {
		sd_ws(p);
		c = sd_peek(p);
		if (c == -1) {
			sd_perr(p, "EOF while parsing a list");
			goto fail;
		}
		if (c == ']')
			break;
		if (!first) {
			if (c != ',') {
				sd_perr(p, "expected `,` or `]`");
				goto fail;
			}
			p->pos++;
			sd_ws(p);
			if (sd_peek(p) == ']') {
				sd_perr(p, "trailing comma");
				goto fail;
			}
		}
		first = 0;
		if ((v = st != NULL ? sd_struct(p, st) :
		    sd_string_value(p, "a string")) == NULL)
			goto fail;
		json_array_append_new(arr, v);
	}
	p->pos++;
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

/* MacAddr: six two-digit hex octets separated by ':'. */
static int
sd_parse_mac(const char *s, unsigned char mac[6])
{
	int	i;

	for (i = 0; i < 6; i++) {
		if (sd_hexval((unsigned char)s[0]) == -1 ||
		    sd_hexval((unsigned char)s[1]) == -1)
			return -1;
		mac[i] = (unsigned char)(sd_hexval((unsigned char)s[0]) * 16 +
		    sd_hexval((unsigned char)s[1]));
		s += 2;
		if (i < 5 && *s++ != ':')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

static json_t *
sd_field_value(struct sd *p, const struct sd_field *f)
{
	json_t		*v;
	unsigned char	 mac[6];
	char		 buf[32];
	struct in_addr	 in;

	if (f->flags & SD_OPT) {
		sd_ws(p);
		if (sd_peek(p) == 'n') {
			p->pos++;
			return sd_ident(p, "ull") == -1 ? NULL : json_null();
		}
	}
	switch (f->kind) {
	case SD_STR:
		return sd_string_value(p, "a string");
	case SD_PATH:
		return sd_string_value(p, "path string");
	case SD_BOOL:
		return sd_bool_value(p);
	case SD_U8:
		return sd_uint_value(p, UINT8_MAX, "u8");
	case SD_U16:
		return sd_uint_value(p, UINT16_MAX, "u16");
	case SD_U32:
		return sd_uint_value(p, UINT32_MAX, "u32");
	case SD_U64:
		return sd_uint_value(p, UINT64_MAX, "u64");
	case SD_USIZE:
		return sd_uint_value(p, UINT64_MAX, "usize");
	case SD_ENUM:
		return sd_enum_value(p, f->aux);
	case SD_STRUCT:
		return sd_struct(p, f->aux);
	case SD_ANY:
		return sd_any(p);
	case SD_STRVEC:
		return sd_vec_value(p, NULL);
	case SD_STRUCTVEC:
		return sd_vec_value(p, f->aux);
	case SD_MAC:
		if ((v = sd_string_value(p, "a string")) == NULL)
			return NULL;
		if (sd_parse_mac(json_string_value(v), mac) == -1) {
			json_decref(v);
			/* a custom error: the struct gives it a position */
			sd_err(p, "The provided MAC address is invalid.");
			return NULL;
		}
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
		    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		json_decref(v);
		return json_string(buf);
	case SD_IPV4:
		sd_ws(p);
		if (sd_peek(p) != '"') {
			if (sd_peek(p) == -1)
				sd_perr(p, "EOF while parsing a value");
			else
				sd_invalid_type(p, "IPv4 address");
			return NULL;
		}
		if ((v = sd_string_value(p, "IPv4 address")) == NULL)
			return NULL;
		if (inet_pton(AF_INET, json_string_value(v), &in) != 1) {
			json_decref(v);
			sd_cerr(p, "invalid IPv4 address syntax");
			return NULL;
		}
		return v;
	}
	sd_cerr(p, "internal error");
	return NULL;
}

/*
 * A struct as serde derives it: with #[serde(deny_unknown_fields)] an
 * unknown field is an error; without it (unknown_ok) the field's value
 * is read as any JSON and dropped.
 */
static json_t *
sd_struct(struct sd *p, const struct sd_struct *st)
{
	const struct sd_field	*f;
	json_t			*obj, *v;
	char			*key, exp[1024], what[128];
	const char		*names[64];
	unsigned char		 seen[64];
	size_t			 nf, i;
	int			 first = 1, c;

	for (nf = 0; st->fields[nf].name != NULL && nf < 63; nf++)
		names[nf] = st->fields[nf].name;
	names[nf] = NULL;
	memset(seen, 0, sizeof(seen));

	sd_ws(p);
	c = sd_peek(p);
	if (c == -1) {
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	}
	if (c != '{') {
		snprintf(what, sizeof(what), "struct %s", st->name);
		sd_invalid_type(p, what);
		return NULL;
	}
	if (++p->depth > SD_MAXDEPTH) {
		sd_perr(p, "recursion limit exceeded");
		return NULL;
	}
	p->pos++;
	obj = json_object();
	for (;;) {
		sd_ws(p);
		c = sd_peek(p);
		if (c == -1) {
			sd_perr(p, "EOF while parsing an object");
			goto fail;
		}
		if (c == '}')
			break;
		if (!first) {
			if (c != ',') {
				sd_perr(p, "expected `,` or `}`");
				goto fail;
			}
			p->pos++;
			sd_ws(p);
			c = sd_peek(p);
			if (c == -1) {
				sd_perr(p, "EOF while parsing a value");
				goto fail;
			}
			if (c == '}') {
				sd_perr(p, "trailing comma");
				goto fail;
			}
		}
		first = 0;
		if (c != '"') {
			sd_perr(p, "key must be a string");
			goto fail;
		}
		p->pos++;
		if ((key = sd_str(p, NULL)) == NULL)
			goto fail;
		for (i = 0; i < nf; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == nf && !st->unknown_ok) {
			if (nf == 0)
				sd_err(p, "unknown field `%s`, there are no "
				    "fields", key);
			else {
				sd_oneof(names, exp, sizeof(exp));
				sd_err(p, "unknown field `%s`, expected %s",
				    key, exp);
			}
			free(key);
			goto vfail;
		}
		free(key);
		f = i < nf ? &st->fields[i] : NULL;
		if (f != NULL && seen[i]) {
			sd_err(p, "duplicate field `%s`", f->name);
			goto vfail;
		}
		sd_ws(p);
		c = sd_peek(p);
		if (c == -1) {
			sd_perr(p, "EOF while parsing an object");
			goto fail;
		}
		if (c != ':') {
			sd_perr(p, "expected `:`");
			goto fail;
		}
		p->pos++;
		if (f == NULL) {
			if ((v = sd_any(p)) == NULL)
				goto vfail;
			json_decref(v);
			continue;
		}
		if ((v = sd_field_value(p, f)) == NULL)
			goto vfail;
		seen[i] = 1;
		if (json_is_null(v))
			json_decref(v);
		else
			json_object_set_new(obj, f->name, v);
	}
	/* serde checks for missing fields before it eats the '}' */
	for (i = 0; i < nf; i++) {
		f = &st->fields[i];
		if (!seen[i] && (f->flags & (SD_OPT | SD_DEF)) == 0) {
			p->pos++;
			sd_cerr(p, "missing field `%s`", f->name);
			goto fail;
		}
	}
	p->pos++;
	p->depth--;
	return obj;
vfail:
	/* serde tries end_map() and then fixes the error's position */
	if (!p->positioned) {
		sd_ws(p);
		if (sd_peek(p) == '}')
			p->pos++;
		sd_fix(p);
	}
fail:
	p->depth--;
	json_decref(obj);
	return NULL;
}

/* Any JSON value, as serde_json::Value reads it. */
static json_t *
sd_any(struct sd *p)
{
	struct sd_num	 num;
	json_t		*v, *e;
	char		*s, *key;
	size_t		 n;
	int		 c, first;

	sd_ws(p);
	c = sd_peek(p);
	switch (c) {
	case -1:
		sd_perr(p, "EOF while parsing a value");
		return NULL;
	case 'n':
		p->pos++;
		return sd_ident(p, "ull") == -1 ? NULL : json_null();
	case 't':
		p->pos++;
		return sd_ident(p, "rue") == -1 ? NULL : json_true();
	case 'f':
		p->pos++;
		return sd_ident(p, "alse") == -1 ? NULL : json_false();
	case '"':
		p->pos++;
		if ((s = sd_str(p, &n)) == NULL)
			return NULL;
		v = json_stringn(s, n);
		free(s);
		return v;
	case '[':
		if (++p->depth > SD_MAXDEPTH) {
			sd_perr(p, "recursion limit exceeded");
			return NULL;
		}
		p->pos++;
		v = json_array();
		for (first = 1;; first = 0) {
			sd_ws(p);
			c = sd_peek(p);
			if (c == -1) {
				sd_perr(p, "EOF while parsing a list");
				goto fail;
			}
			if (c == ']')
				break;
			if (!first) {
				if (c != ',') {
					sd_perr(p, "expected `,` or `]`");
					goto fail;
				}
				p->pos++;
				sd_ws(p);
				if (sd_peek(p) == ']') {
					sd_perr(p, "trailing comma");
					goto fail;
				}
			}
			if ((e = sd_any(p)) == NULL)
				goto fail;
			json_array_append_new(v, e);
		}
		p->pos++;
		p->depth--;
		return v;
	case '{':
		if (++p->depth > SD_MAXDEPTH) {
			sd_perr(p, "recursion limit exceeded");
			return NULL;
		}
		p->pos++;
		v = json_object();
		for (first = 1;; first = 0) {
			sd_ws(p);
			c = sd_peek(p);
			if (c == -1) {
				sd_perr(p, "EOF while parsing an object");
				goto fail;
			}
			if (c == '}')
				break;
			if (!first) {
				if (c != ',') {
					sd_perr(p, "expected `,` or `}`");
					goto fail;
				}
				p->pos++;
				sd_ws(p);
				c = sd_peek(p);
				if (c == -1) {
					sd_perr(p, "EOF while parsing a value");
					goto fail;
				}
				if (c == '}') {
					sd_perr(p, "trailing comma");
					goto fail;
				}
			}
			if (c != '"') {
				sd_perr(p, "key must be a string");
				goto fail;
			}
			p->pos++;
			if ((key = sd_str(p, NULL)) == NULL)
				goto fail;
			sd_ws(p);
			c = sd_peek(p);
			if (c != ':') {
				if (c == -1)
					sd_perr(p, "EOF while parsing an "
					    "object");
				else
					sd_perr(p, "expected `:`");
				free(key);
				goto fail;
			}
			p->pos++;
			if ((e = sd_any(p)) == NULL) {
				free(key);
				goto fail;
			}
			json_object_set_new(v, key, e);
			free(key);
		}
		p->pos++;
		p->depth--;
		return v;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			if (sd_number(p, &num) == -1)
				return NULL;
			if (num.kind == SDN_U64)
				return json_integer(num.u > (uint64_t)INT64_MAX
				    ? INT64_MAX : (json_int_t)num.u);
			if (num.kind == SDN_I64)
				return json_integer(num.i);
			return json_real(num.f);
		}
		sd_perr(p, "expected value");
		return NULL;
	}
fail:
	p->depth--;
	json_decref(v);
	return NULL;
}

/*
 * serde_json::from_slice::<T>(body): the value, then nothing but
 * whitespace.  On failure, NULL and the message in errbuf.
 */
static json_t *
sd_decode(const void *buf, size_t len, const struct sd_struct *st,
    char *errbuf, size_t errsz)
{
	struct sd	 p;
	json_t		*v;

	memset(&p, 0, sizeof(p));
	p.buf = buf;
	p.len = len;
	v = st != NULL ? sd_struct(&p, st) : sd_any(&p);
	if (v != NULL) {
		sd_ws(&p);
		if (p.pos < p.len) {
			sd_perr(&p, "trailing characters");
			json_decref(v);
			v = NULL;
		}
	}
	if (v == NULL)
		sd_format(&p, errbuf, errsz);
	return v;
}

#endif /* FC_STANDIN_SERDE_H */
