/*
 * bangerd.conf(5): the configuration parser, in the shape of the OpenBSD
 * daemons' parse.y.  A hand-written lexer with a sorted keyword table,
 * macros (`name = value', expanded with $name), `include "file"' with a
 * stack of open files, -D macros from the command line, and errors
 * reported as "FILE:LINE: message".
 *
 * Strings made by the lexer and the grammar live in a per-parse arena
 * that config_parse() frees as a whole, so values dropped by error
 * recovery cannot leak.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imgref.h"
#include "log.h"
#include "validate.h"

#define TOKEN_MAX		8192	/* longest word or quoted string */
#define INCLUDE_DEPTH_MAX	16
#define ERRMSG_MAX		1024
#define SHOW_MAX		160	/* of a value in a message */

#define CPUS_MIN		1
#define CPUS_MAX		32
#define MEMORY_MIN		128ULL		/* MiB */
#define MEMORY_MAX		(1ULL << 20)	/* MiB: 1T */
#define DISK_MIN		(256ULL << 20)	/* bytes */
#define DISK_MAX		(16ULL << 40)	/* bytes */
#define DISK_ALIGN		512ULL
#define VM_UID_LIMIT		4294967294LL	/* (uid_t)-1 - 1 */

struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	const char		*name;		/* in the arena */
	dev_t			 dev;
	ino_t			 ino;
	int			 lineno;
	int			 toklineno;	/* of the last token */
	int			 eof_reached;
	int			 braces;	/* '{' not yet closed */
	int			 brace_line;
	unsigned char		*ungetbuf;
	size_t			 ungetpos;
	size_t			 ungetsize;
};
TAILQ_HEAD(files, file);

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 used;
	int			 persist;	/* -D: kept across parses */
	char			*nam;
	char			*val;
};
TAILQ_HEAD(symhead, sym);

/* A string kept until the end of the parse. */
struct chunk {
	struct chunk		*next;
	char			 data[];
};

/* Where a setting was first made, for "already set" errors. */
enum setting {
	S_STATEDIR, S_SOCKET, S_SOCKGROUP, S_USER, S_BRIDGE, S_ADDRESS,
	S_EGRESS, S_DOMAIN, S_FIRECRACKER, S_JAILER, S_VMUIDS, S_STORAGE,
	S_UPDATE, S_CPUS, S_MEMORY, S_DISK, S_MAXVMS, S_REGAUTH, S_MAX
};
struct where {
	const char		*file;		/* NULL: not set yet */
	int			 line;
};

/* Image options, for "specified twice" errors inside one block. */
enum imgopt {
	I_KERNEL, I_INITRD, I_ROOTFS, I_BOOTARGS, I_MAX
};

struct imgrec {
	const char		*name;
	struct where		 at;
};

typedef struct {
	union {
		int64_t		 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;

static struct files	 files = TAILQ_HEAD_INITIALIZER(files);
static struct file	*file, *topfile;
static int		 include_depth;
static struct symhead	 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct chunk	*arena;

static struct bangerd_config *conf;
static int		 errors;
static char		 first_error[PATH_MAX + ERRMSG_MAX];
static struct where	 seen[S_MAX];
static struct imgrec	*imgrecs;
static size_t		 nimgrecs;
static struct conf_image *img;		/* the image block being read */
static int		 img_seen[I_MAX];
static struct conf_registry *reg;	/* the registry block being read */
static int		 reg_seen_ca, reg_seen_insecure;

static int		 last_token;	/* for "start of a statement" */
static char		 last_text[80];	/* the last token, as text */
static const char	*last_kw;	/* the last keyword ... */
static int		 last_kw_line;	/* ... and its line */

int		 yyparse(void);
static int	 yylex(void);
static void	 yyerror(const char *);

static void	 parse_error(int, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 parse_error_at(const char *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 parse_verror(const char *, int, const char *, va_list)
		    __attribute__((__format__ (printf, 3, 0)));
static char	*arena_alloc(size_t);
static char	*arena_strdup(const char *);
static const char *show(const char *);

static int	 symset(const char *, const char *, int);
static const char *symget(const char *);
static int	 valid_macro_name(const char *);
static int	 lookup(const char *);

static void	 include_file(const char *, int);
static void	 set_macro(const char *, const char *, int);
static int	 set_once(enum setting, const char *, int);
static void	 set_path(char *, size_t, const char *, const char *, int);
static void	 set_name(char *, size_t, const char *, const char *, int);
static void	 set_bridge(const char *, int);
static void	 set_address(const char *, int);
static void	 set_egress(const char *, int);
static void	 set_domain(const char *, int);
static void	 set_vmuids(int64_t, int64_t, int);
static void	 set_maxvms(int64_t, int);
static void	 set_update(const char *, int, int);
static void	 set_cpus(int64_t, int);
static void	 set_memory(const char *, int64_t, int);
static void	 set_disk(const char *, int64_t, int);
static void	 image_begin(const char *, int);
static void	 image_opt(enum imgopt, const char *, int);
static void	 image_end(int);
static void	 registry_begin(const char *, int);
static void	 registry_host(const char *, int, int);
%}

%token	ADDRESS ALLOWHTTP AUTO BOOTARGS BRIDGE COPY CPUS DEFAULTS DISK DM
%token	DOMAIN EGRESS FIRECRACKER GROUP IMAGE INCLUDE INITRD JAILER KERNEL
%token	MEMORY REFLINK ROOTFS SOCKET STATEDIR STORAGE TO UPDATE URL USER
%token	VMUIDS MAXVMS REGISTRY REGISTRYAUTH INSECURE CAFILE HOST MIRROR
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.string>	strnum
%type	<v.number>	storage allowhttp

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'
		;

/*
 * The newline is part of the rule, so that the file is pushed before the
 * parser looks ahead at the next token.
 */
include		: INCLUDE STRING '\n'	{
			include_file($2, $<lineno>1);
		}
		;

varset		: STRING '=' strnum	{
			set_macro($1, $3, $<lineno>1);
		}
		;

main		: STATEDIR STRING	{
			if (set_once(S_STATEDIR, "state-dir", $<lineno>1) == 0)
				set_path(conf->cf_statedir,
				    sizeof(conf->cf_statedir), "state-dir", $2,
				    $<lineno>2);
		}
		| SOCKET STRING		{
			if (set_once(S_SOCKET, "socket", $<lineno>1) == 0)
				set_path(conf->cf_socket,
				    sizeof(conf->cf_socket), "socket", $2,
				    $<lineno>2);
		}
		| SOCKET GROUP STRING	{
			if (set_once(S_SOCKGROUP, "socket group",
			    $<lineno>1) == 0)
				set_name(conf->cf_sockgroup,
				    sizeof(conf->cf_sockgroup), "socket group",
				    $3, $<lineno>3);
		}
		| USER STRING		{
			if (set_once(S_USER, "user", $<lineno>1) == 0)
				set_name(conf->cf_user, sizeof(conf->cf_user),
				    "user", $2, $<lineno>2);
		}
		| BRIDGE STRING		{
			if (set_once(S_BRIDGE, "bridge", $<lineno>1) == 0)
				set_bridge($2, $<lineno>2);
		} optnl '{' optnl bridgel '}'
		| DOMAIN STRING		{
			if (set_once(S_DOMAIN, "domain", $<lineno>1) == 0)
				set_domain($2, $<lineno>2);
		}
		| FIRECRACKER STRING	{
			if (set_once(S_FIRECRACKER, "firecracker",
			    $<lineno>1) == 0)
				set_path(conf->cf_firecracker,
				    sizeof(conf->cf_firecracker),
				    "firecracker", $2, $<lineno>2);
		}
		| JAILER STRING		{
			if (set_once(S_JAILER, "jailer", $<lineno>1) == 0)
				set_path(conf->cf_jailer,
				    sizeof(conf->cf_jailer), "jailer", $2,
				    $<lineno>2);
		}
		| VMUIDS NUMBER TO NUMBER	{
			if (set_once(S_VMUIDS, "vm-uids", $<lineno>1) == 0)
				set_vmuids($2, $4, $<lineno>1);
		}
		| MAXVMS NUMBER		{
			if (set_once(S_MAXVMS, "max-vms", $<lineno>1) == 0)
				set_maxvms($2, $<lineno>2);
		}
		| MAXVMS STRING		{
			parse_error($<lineno>2, "max-vms \"%s\": expected a "
			    "number from 1 to %d", show($2), BANGER_MAX_VMS_LIMIT);
		}
		| VMUIDS STRING		{
			parse_error($<lineno>2, "vm-uids \"%s\": expected a "
			    "range of uids such as \"vm-uids %d to %d\"",
			    show($2), BANGER_VM_UID_MIN, BANGER_VM_UID_MAX);
		}
		| STORAGE storage	{
			if (set_once(S_STORAGE, "storage", $<lineno>1) == 0 &&
			    $2 != -1)
				conf->cf_storage = $2;
		}
		| UPDATE URL STRING allowhttp	{
			if (set_once(S_UPDATE, "update url", $<lineno>1) == 0)
				set_update($3, $4, $<lineno>3);
		}
		| DEFAULTS optnl '{' optnl defaultsl '}'
		| REGISTRY STRING	{
			registry_begin($2, $<lineno>2);
		} optnl '{' optnl registryl '}'	{
			reg = NULL;
		}
		| REGISTRYAUTH STRING	{
			if (set_once(S_REGAUTH, "registry-auth",
			    $<lineno>1) == 0)
				set_path(conf->cf_registry_auth,
				    sizeof(conf->cf_registry_auth),
				    "registry-auth", $2, $<lineno>2);
		}
		| IMAGE strnum		{
			image_begin($2, $<lineno>2);
		} optnl '{' optnl imagel '}'	{
			image_end($<lineno>8);
		}
		;

storage		: AUTO			{ $$ = STORAGE_AUTO; }
		| DM			{ $$ = STORAGE_DM; }
		| REFLINK		{ $$ = STORAGE_REFLINK; }
		| COPY			{ $$ = STORAGE_COPY; }
		| STRING		{
			parse_error($<lineno>1, "storage \"%s\": unknown "
			    "backend; expected auto, dm, reflink or copy",
			    show($1));
			$$ = -1;
		}
		;

allowhttp	: /* empty */		{ $$ = 0; }
		| ALLOWHTTP		{ $$ = 1; }
		;

bridgel		: /* empty */
		| bridgel bridgeopt optsep
		;

bridgeopt	: ADDRESS STRING	{
			if (set_once(S_ADDRESS, "address", $<lineno>1) == 0)
				set_address($2, $<lineno>2);
		}
		| EGRESS STRING		{
			if (set_once(S_EGRESS, "egress", $<lineno>1) == 0)
				set_egress($2, $<lineno>2);
		}
		;

defaultsl	: /* empty */
		| defaultsl defaultsopt optsep
		;

defaultsopt	: CPUS NUMBER		{
			if (set_once(S_CPUS, "cpus", $<lineno>1) == 0)
				set_cpus($2, $<lineno>2);
		}
		| CPUS STRING		{
			parse_error($<lineno>2, "cpus \"%s\": expected a "
			    "number from %d to %d", show($2), CPUS_MIN,
			    CPUS_MAX);
		}
		| MEMORY NUMBER		{
			if (set_once(S_MEMORY, "memory", $<lineno>1) == 0)
				set_memory(NULL, $2, $<lineno>2);
		}
		| MEMORY STRING		{
			if (set_once(S_MEMORY, "memory", $<lineno>1) == 0)
				set_memory($2, 0, $<lineno>2);
		}
		| DISK NUMBER		{
			if (set_once(S_DISK, "disk", $<lineno>1) == 0)
				set_disk(NULL, $2, $<lineno>2);
		}
		| DISK STRING		{
			if (set_once(S_DISK, "disk", $<lineno>1) == 0)
				set_disk($2, 0, $<lineno>2);
		}
		;

imagel		: /* empty */
		| imagel imageopt optsep
		;

imageopt	: KERNEL STRING		{
			image_opt(I_KERNEL, $2, $<lineno>1);
		}
		| INITRD STRING		{
			image_opt(I_INITRD, $2, $<lineno>1);
		}
		| ROOTFS STRING		{
			image_opt(I_ROOTFS, $2, $<lineno>1);
		}
		| BOOTARGS STRING	{
			image_opt(I_BOOTARGS, $2, $<lineno>1);
		}
		;

registryl	: /* empty */
		| registryl registryopt optsep
		;

registryopt	: INSECURE		{
			if (reg_seen_insecure++)
				parse_error($<lineno>1, "insecure already set "
				    "in this registry");
			reg->reg_insecure = 1;
		}
		| CAFILE STRING		{
			if (reg_seen_ca++)
				parse_error($<lineno>1, "ca-file already set "
				    "in this registry");
			set_path(reg->reg_cafile, sizeof(reg->reg_cafile),
			    "ca-file", $2, $<lineno>2);
		}
		| HOST STRING		{
			registry_host($2, $<lineno>2, 0);
		}
		| MIRROR STRING		{
			registry_host($2, $<lineno>2, 1);
		}
		;

strnum		: STRING
		| NUMBER		{
			char	 buf[32];

			snprintf(buf, sizeof(buf), "%lld", (long long)$1);
			$$ = arena_strdup(buf);
		}
		;

optsep		: /* empty */
		| ',' optnl
		| '\n' optnl
		;

optnl		: /* empty */
		| '\n' optnl
		;

%%

struct keyword {
	const char	*k_name;
	int		 k_val;
};

/* Sorted for bsearch(3). */
static const struct keyword keywords[] = {
	{ "address",		ADDRESS },
	{ "allow-http",		ALLOWHTTP },
	{ "auto",		AUTO },
	{ "boot-args",		BOOTARGS },
	{ "bridge",		BRIDGE },
	{ "ca-file",		CAFILE },
	{ "copy",		COPY },
	{ "cpus",		CPUS },
	{ "defaults",		DEFAULTS },
	{ "disk",		DISK },
	{ "dm",			DM },
	{ "domain",		DOMAIN },
	{ "egress",		EGRESS },
	{ "firecracker",	FIRECRACKER },
	{ "group",		GROUP },
	{ "host",		HOST },
	{ "image",		IMAGE },
	{ "include",		INCLUDE },
	{ "initrd",		INITRD },
	{ "insecure",		INSECURE },
	{ "jailer",		JAILER },
	{ "kernel",		KERNEL },
	{ "max-vms",		MAXVMS },
	{ "memory",		MEMORY },
	{ "mirror",		MIRROR },
	{ "reflink",		REFLINK },
	{ "registry",		REGISTRY },
	{ "registry-auth",	REGISTRYAUTH },
	{ "rootfs",		ROOTFS },
	{ "socket",		SOCKET },
	{ "state-dir",		STATEDIR },
	{ "storage",		STORAGE },
	{ "to",			TO },
	{ "update",		UPDATE },
	{ "url",		URL },
	{ "user",		USER },
	{ "vm-uids",		VMUIDS },
};

static const char *const storage_names[] = {
	[STORAGE_AUTO] =	"auto",
	[STORAGE_DM] =		"dm",
	[STORAGE_REFLINK] =	"reflink",
	[STORAGE_COPY] =	"copy",
};

/*
 * Errors.
 */

static void
parse_verror(const char *fname, int line, const char *fmt, va_list ap)
{
	char	 msg[ERRMSG_MAX];
	char	 full[sizeof(first_error)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", fname, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", fname, msg);
	log_warnx("%s", full);
	if (errors++ == 0)
		strlcpy(first_error, full, sizeof(first_error));
}

static void
parse_error_at(const char *fname, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_verror(fname, line, fmt, ap);
	va_end(ap);
}

/* An error in the current file at the given line. */
static void
parse_error(int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_verror(file != NULL ? file->name : conf->cf_path, line, fmt, ap);
	va_end(ap);
}

/* The block a keyword belongs in, if it only goes in one. */
static const char *
block_of(int tok)
{
	switch (tok) {
	case ADDRESS:
	case EGRESS:
		return "bridge";
	case CPUS:
	case MEMORY:
	case DISK:
		return "defaults";
	case KERNEL:
	case INITRD:
	case ROOTFS:
	case BOOTARGS:
		return "image";
	}
	return NULL;
}

/* bison's syntax errors: say which token did not fit, and after what. */
static void
yyerror(const char *msg)
{
	char		 what[sizeof(last_text) + 32];
	const char	*block;
	int		 line = yylval.lineno;

	if (yychar == ERROR)
		return;			/* the lexer has said why */
	if (strcmp(msg, "syntax error") != 0) {
		parse_error(line, "%s", msg);
		return;
	}
	if (file != NULL && file->braces == 0 &&
	    (block = block_of(yychar)) != NULL) {
		parse_error(line, "\"%s\" is only valid inside a %s block",
		    last_text, block);
		return;
	}
	if (yychar == 0)
		strlcpy(what, "end of file", sizeof(what));
	else if (yychar == '\n')
		strlcpy(what, "end of line", sizeof(what));
	else
		snprintf(what, sizeof(what), "\"%s\"", last_text);
	if (last_kw != NULL && last_kw_line == line &&
	    strcmp(last_kw, last_text) != 0)
		parse_error(line, "syntax error: unexpected %s after \"%s\"",
		    what, last_kw);
	else
		parse_error(line, "syntax error: unexpected %s", what);
}

/*
 * A string fit for an error message: control characters escaped, long
 * ones cut short.  Four calls may share one message.
 */
static const char *
show(const char *s)
{
	static char	 bufs[4][SHOW_MAX + 8];
	static int	 n;
	char		*buf, *p;
	size_t		 i;

	buf = bufs[n++ % 4];
	p = buf;
	for (i = 0; s[i] != '\0'; i++) {
		if (p - buf >= SHOW_MAX) {
			strlcpy(p, "...", 4);
			return buf;
		}
		if (s[i] == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (s[i] == '\t') {
			*p++ = '\\';
			*p++ = 't';
		} else if (iscntrl((unsigned char)s[i]) ||
		    (unsigned char)s[i] > 0x7e) {
			p += snprintf(p, 5, "\\x%02x", (unsigned char)s[i]);
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return buf;
}

/*
 * The arena.
 */

static char *
arena_alloc(size_t len)
{
	struct chunk	*c;

	if ((c = malloc(sizeof(*c) + len)) == NULL)
		fatal("%s", __func__);
	c->next = arena;
	arena = c;
	return c->data;
}

static char *
arena_strdup(const char *s)
{
	size_t	 len = strlen(s) + 1;

	return memcpy(arena_alloc(len), s, len);
}

static void
arena_free(void)
{
	struct chunk	*c;

	while ((c = arena) != NULL) {
		arena = c->next;
		free(c);
	}
}

/*
 * Files.
 */

static struct file *
pushfile(const char *name, int line)
{
	struct file	*nfile, *f;
	struct stat	 st;
	FILE		*fp;
	int		 fd, saved;

	if (include_depth >= INCLUDE_DEPTH_MAX) {
		parse_error(line, "include \"%s\": includes nested more than "
		    "%d deep", show(name), INCLUDE_DEPTH_MAX);
		return NULL;
	}
	/* Non-blocking, so that a FIFO cannot hang the daemon. */
	if ((fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	TAILQ_FOREACH(f, &files, entry) {
		if (f->dev == st.st_dev && f->ino == st.st_ino) {
			errno = ELOOP;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, 0) == -1 || (fp = fdopen(fd, "r")) == NULL)
		goto fail;
	if ((nfile = calloc(1, sizeof(*nfile))) == NULL ||
	    (nfile->ungetbuf = malloc(16)) == NULL)
		fatal("%s", __func__);
	nfile->ungetsize = 16;
	nfile->stream = fp;
	nfile->name = arena_strdup(name);
	nfile->dev = st.st_dev;
	nfile->ino = st.st_ino;
	nfile->lineno = 1;
	nfile->toklineno = 1;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	include_depth++;
	return nfile;

 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

static int
popfile(void)
{
	struct file	*prev;

	prev = TAILQ_PREV(file, files, entry);
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->ungetbuf);
	free(file);
	include_depth--;
	file = prev;
	return file != NULL ? 0 : EOF;
}

/* Why pushfile failed. */
static const char *
open_error(int e)
{
	return e == EINVAL ? "not a regular file" : strerror(e);
}

/*
 * include "name": a relative name is taken from the including file's
 * directory.
 */
static void
include_file(const char *name, int line)
{
	struct file	*nfile;
	const char	*path = name, *slash;
	char		*buf = NULL;
	int		 saved;

	if (name[0] == '\0') {
		parse_error(line, "include \"\": expected a file name");
		return;
	}
	if (name[0] != '/' && (slash = strrchr(file->name, '/')) != NULL) {
		buf = arena_alloc((slash - file->name) + 1 + strlen(name) + 1);
		memcpy(buf, file->name, slash - file->name + 1);
		strcpy(buf + (slash - file->name) + 1, name);
		path = buf;
	}
	if (strlen(path) >= PATH_MAX) {
		parse_error(line, "include \"%s\": path too long (at most %d "
		    "bytes)", show(path), PATH_MAX - 1);
		return;
	}
	errno = 0;
	if ((nfile = pushfile(path, line)) == NULL) {
		saved = errno;
		if (saved == ELOOP)
			parse_error(line, "include \"%s\": recursive include "
			    "(the file is already being read)", show(path));
		else if (saved != 0)
			parse_error(line, "include \"%s\": cannot open: %s",
			    show(path), open_error(saved));
		return;
	}
	file = nfile;
}

/*
 * The lexer.
 */

static int
kw_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->k_name);
}

static int
lookup(const char *s)
{
	const struct keyword	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return p != NULL ? p->k_val : STRING;
}

static const char *
keyword_name(int tok)
{
	size_t	 i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].k_val == tok)
			return keywords[i].k_name;
	return NULL;
}

static int
igetc(void)
{
	if (file->ungetpos > 0)
		return file->ungetbuf[--file->ungetpos];
	return getc(file->stream);
}

static void
lungetc(int c)
{
	unsigned char	*p;

	if (c == EOF)
		return;
	if (file->ungetpos >= file->ungetsize) {
		if ((p = reallocarray(file->ungetbuf, file->ungetsize,
		    2)) == NULL)
			fatal("%s", __func__);
		file->ungetbuf = p;
		file->ungetsize *= 2;
	}
	file->ungetbuf[file->ungetpos++] = c;
}

/*
 * The next character.  Outside quotes a backslash-newline joins lines,
 * and the end of a file reads as one last newline first, so that its
 * last statement ends inside it.
 */
static int
lgetc(int quoted)
{
	int	 c, next;

	if (quoted)
		return igetc();
	for (;;) {
		c = igetc();
		if (c == '\\') {
			next = igetc();
			if (next == '\n') {
				file->lineno++;
				continue;
			}
			lungetc(next);
			return c;
		}
		if (c == EOF && !file->eof_reached) {
			file->eof_reached = 1;
			return '\n';
		}
		return c;
	}
}

static void
count_brace(int c)
{
	if (c == '{' && file->braces++ == 0)
		file->brace_line = file->lineno;
	else if (c == '}' && file->braces > 0)
		file->braces--;
}

/*
 * After an error: skip the rest of the line, but leave its newline for
 * the grammar's error recovery.
 */
static int
findeol(void)
{
	int	 c;

	while ((c = lgetc(0)) != '\n' && c != EOF)
		count_brace(c);
	lungetc(c);
	return ERROR;
}

/* Is the next thing on the line an '='? */
static int
peek_equals(void)
{
	int	 c;

	while ((c = lgetc(0)) == ' ' || c == '\t')
		;
	lungetc(c);
	return c == '=';
}

static int
is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
lex_number(const char *s)
{
	const char	*errstr;

	yylval.v.number = strtonum(s, LLONG_MIN, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		parse_error(yylval.lineno, "number %s is %s", show(s), errstr);
		return findeol();
	}
	return NUMBER;
}

static int
is_wordchar(int c)
{
	return isalnum(c) || (ispunct(c) && strchr("(){}!=#,;\"'$", c) == NULL);
}

static void
set_last_text(const char *s)
{
	strlcpy(last_text, show(s), sizeof(last_text));
}

static int
lex_word(const char *buf)
{
	int	 tok, bol;

	if (is_number(buf))
		return lex_number(buf);
	tok = lookup(buf);
	/* At the start of a statement: a keyword, or a macro's name. */
	bol = last_token == '\n' || last_token == '{' || last_token == ',';
	if (bol) {
		if (tok != STRING && file->braces == 0 && peek_equals()) {
			parse_error(yylval.lineno, "macro name \"%s\" is a "
			    "reserved keyword; choose another name", buf);
			return findeol();
		}
		if (tok == STRING && (file->braces > 0 || !peek_equals())) {
			parse_error(yylval.lineno, "unknown keyword \"%s\"",
			    show(buf));
			return findeol();
		}
	}
	if (tok == STRING)
		yylval.v.string = arena_strdup(buf);
	else {
		last_kw = keyword_name(tok);
		last_kw_line = yylval.lineno;
	}
	return tok;
}

/*
 * A token is made of segments that touch: bare words, quoted strings and
 * $macros, as in `"$dir"/vmlinux' or `$dir"/vmlinux"'.  Each segment
 * reader appends to buf and returns the character after it, or -2 after
 * reporting an error.
 */
#define SEG_ERROR	(-2)

static int
seg_append(char *buf, size_t *n, int c)
{
	if (*n >= TOKEN_MAX - 1) {
		parse_error(yylval.lineno, "word or string too long (more "
		    "than %d bytes)", TOKEN_MAX - 1);
		return -1;
	}
	buf[(*n)++] = c;
	return 0;
}

static int
seg_bare(char *buf, size_t *n, int c)
{
	do {
		if (seg_append(buf, n, c) == -1)
			return SEG_ERROR;
	} while ((c = lgetc(0)) != EOF && is_wordchar(c));
	return c;
}

/* $name: a macro's value, taken as it is; macros are not expanded in it. */
static int
seg_macro(char *buf, size_t *n)
{
	char		 name[TOKEN_MAX];
	const char	*val;
	size_t		 len = 0;
	int		 c;

	while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
		if (len >= sizeof(name) - 1) {
			parse_error(yylval.lineno, "macro name too long");
			lungetc(c);
			return SEG_ERROR;
		}
		name[len++] = c;
	}
	name[len] = '\0';
	if (len == 0) {
		parse_error(yylval.lineno, "'$' must be followed by a macro "
		    "name; quote a literal '$'");
		lungetc(c);
		return SEG_ERROR;
	}
	if ((val = symget(name)) == NULL) {
		parse_error(yylval.lineno, "macro \"%s\" is not defined",
		    show(name));
		lungetc(c);
		return SEG_ERROR;
	}
	for (; *val != '\0'; val++) {
		if (seg_append(buf, n, *val) == -1) {
			lungetc(c);
			return SEG_ERROR;
		}
	}
	return c;
}

/* Quoted: \<quote> and \\ escape, \<newline> joins lines, newlines stay. */
static int
seg_quoted(char *buf, size_t *n, int quotec)
{
	int	 c, next;

	for (;;) {
		if ((c = lgetc(quotec)) == EOF) {
			parse_error(yylval.lineno, "unterminated quoted "
			    "string: missing closing %c", quotec);
			return SEG_ERROR;
		}
		if (c == '\n')
			file->lineno++;
		else if (c == '\\') {
			next = lgetc(quotec);
			if (next == quotec || next == '\\')
				c = next;
			else if (next == '\n') {
				file->lineno++;
				continue;
			} else
				lungetc(next);
		} else if (c == quotec)
			break;
		else if (c == '\0') {
			parse_error(file->lineno, "NUL character in a quoted "
			    "string");
			return SEG_ERROR;
		}
		if (seg_append(buf, n, c) == -1)
			return SEG_ERROR;
	}
	return lgetc(0);
}

static int
lex_token(int c)
{
	char	 buf[TOKEN_MAX];
	size_t	 n = 0;
	int	 nseg, first = c;

	for (nseg = 0;; nseg++) {
		if (c == '"' || c == '\'')
			c = seg_quoted(buf, &n, c);
		else if (c == '$')
			c = seg_macro(buf, &n);
		else if (c != EOF && is_wordchar(c))
			c = seg_bare(buf, &n, c);
		else
			break;
		if (c == SEG_ERROR)
			return findeol();
	}
	lungetc(c);
	buf[n] = '\0';
	set_last_text(buf);
	if (nseg == 1 && first != '"' && first != '\'' && first != '$')
		return lex_word(buf);
	if (nseg == 1 && first == '$' && is_number(buf))
		return lex_number(buf);
	yylval.v.string = arena_strdup(buf);
	return STRING;
}

static int
lex(void)
{
	int	 c;

top:
	while ((c = lgetc(0)) == ' ' || c == '\t' || c == '\r')
		;
	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;

	switch (c) {
	case EOF:
		yylval.lineno = file->toklineno;
		if (file->braces > 0) {
			parse_error(file->brace_line, "missing '}': this "
			    "block is not closed before the end of the file");
			file->braces = 0;
			strlcpy(last_text, "end of file", sizeof(last_text));
			return ERROR;
		}
		if (file == topfile)
			return 0;
		popfile();
		goto top;
	case '\n':
		/* After the end of the file, only the one made up. */
		if (!file->eof_reached)
			file->lineno++;
		strlcpy(last_text, "end of line", sizeof(last_text));
		return c;
	case '\0':
		parse_error(yylval.lineno, "NUL character in the file");
		return findeol();
	case '{':
	case '}':
		count_brace(c);
		break;
	case '"':
	case '\'':
	case '$':
		return lex_token(c);
	}
	if (is_wordchar(c))
		return lex_token(c);

	if (isprint(c))
		snprintf(last_text, sizeof(last_text), "%c", c);
	else
		snprintf(last_text, sizeof(last_text), "\\x%02x", c);
	return c;
}

static int
yylex(void)
{
	int	 tok;

	tok = lex();
	last_token = tok;
	if (tok != 0 && tok != '\n')
		file->toklineno = yylval.lineno;
	return tok;
}

/*
 * Macros.
 */

static int
valid_macro_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (s++; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int
symset(const char *nam, const char *val, int persist)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (strcmp(nam, sym->nam) == 0)
			break;
	}
	if (sym != NULL) {
		if (sym->persist && !persist)
			return 0;	/* -D wins over the file */
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->nam);
		free(sym->val);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return -1;
	if ((sym->nam = strdup(nam)) == NULL) {
		free(sym);
		return -1;
	}
	if ((sym->val = strdup(val)) == NULL) {
		free(sym->nam);
		free(sym);
		return -1;
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return 0;
}

static const char *
symget(const char *nam)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (strcmp(nam, sym->nam) == 0) {
			sym->used = 1;
			return sym->val;
		}
	}
	return NULL;
}

int
cmdline_symset(char *s)
{
	char	*eq, *nam;
	int	 ret;

	if ((eq = strchr(s, '=')) == NULL)
		return -1;
	if ((nam = strndup(s, eq - s)) == NULL)
		return -1;
	if (!valid_macro_name(nam) || lookup(nam) != STRING) {
		free(nam);
		return -1;
	}
	ret = symset(nam, eq + 1, 1);
	free(nam);
	return ret;
}

static void
set_macro(const char *nam, const char *val, int line)
{
	if (!valid_macro_name(nam)) {
		parse_error(line, "invalid macro name \"%s\": expected a "
		    "letter or '_' followed by letters, digits or '_'",
		    show(nam));
		return;
	}
	if (symset(nam, val, 0) == -1)
		fatal("%s", __func__);
}

/*
 * Values.
 */

/* Each setting is made once; a second time is an error naming the first. */
static int
set_once(enum setting which, const char *what, int line)
{
	struct where	*w = &seen[which];

	if (w->file != NULL) {
		if (strcmp(w->file, file->name) == 0)
			parse_error(line, "%s already set at line %d",
			    what, w->line);
		else
			parse_error(line, "%s already set at %s:%d",
			    what, w->file, w->line);
		return -1;
	}
	w->file = file->name;
	w->line = line;
	return 0;
}

static int
has_cntrl(const char *s)
{
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

static void
set_path(char *dst, size_t dstsize, const char *what, const char *val,
    int line)
{
	struct sockaddr_un	 sa;

	if (val[0] != '/')
		parse_error(line, "%s \"%s\": expected an absolute path "
		    "(starting with '/')", what, show(val));
	else if (has_cntrl(val))
		parse_error(line, "%s \"%s\": a path must not contain "
		    "newlines or other control characters", what, show(val));
	else if (strlen(val) >= dstsize)
		parse_error(line, "%s \"%s\": path too long (at most %zu "
		    "bytes)", what, show(val), dstsize - 1);
	else if (dst == conf->cf_socket && strlen(val) >= sizeof(sa.sun_path))
		parse_error(line, "%s \"%s\": path too long for a unix "
		    "socket (at most %zu bytes)", what, show(val),
		    sizeof(sa.sun_path) - 1);
	else
		strlcpy(dst, val, dstsize);
}

/* A user or group name as shadow-utils would take it. */
static void
set_name(char *dst, size_t dstsize, const char *what, const char *val,
    int line)
{
	size_t	 len = strlen(val), i;
	int	 ok;

	ok = len > 0 && len < dstsize &&
	    (isalpha((unsigned char)val[0]) || val[0] == '_');
	for (i = 1; ok && i < len; i++) {
		if (!isalnum((unsigned char)val[i]) && val[i] != '_' &&
		    val[i] != '-' && val[i] != '.' &&
		    !(val[i] == '$' && i == len - 1))
			ok = 0;
	}
	if (!ok) {
		parse_error(line, "%s \"%s\": invalid name; expected 1 to %zu "
		    "letters, digits, '_', '-' or '.', starting with a "
		    "letter or '_'", what, show(val), dstsize - 1);
		return;
	}
	strlcpy(dst, val, dstsize);
}

static void
set_bridge(const char *val, int line)
{
	size_t	 plen = strlen(BANGER_BRIDGE), len = strlen(val), i;
	int	 ok;

	if (strcmp(val, BANGER_BRIDGE) == 0)
		ok = 1;
	else {
		ok = strncmp(val, BANGER_BRIDGE "-", plen + 1) == 0 &&
		    len > plen + 1 && len <= plen + 1 + 5 &&
		    len < sizeof(conf->cf_bridge);
		for (i = plen + 1; ok && i < len; i++)
			if (!islower((unsigned char)val[i]) &&
			    !isdigit((unsigned char)val[i]) && val[i] != '-')
				ok = 0;
	}
	if (!ok) {
		parse_error(line, "bridge \"%s\": invalid name; expected "
		    "\"%s\" or \"%s-\" followed by 1 to 5 of [a-z0-9-]",
		    show(val), BANGER_BRIDGE, BANGER_BRIDGE);
		return;
	}
	strlcpy(conf->cf_bridge, val, sizeof(conf->cf_bridge));
}

static void
set_address(const char *val, int line)
{
	char		 host[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	char		 first[INET_ADDRSTRLEN];
	const char	*slash, *p;
	struct in_addr	 a, n;
	uint32_t	 addr, mask;
	int		 prefix = 0;

	if ((slash = strchr(val, '/')) == NULL ||
	    (size_t)(slash - val) >= sizeof(host)) {
		parse_error(line, "address \"%s\": expected an IPv4 address "
		    "and prefix length such as %s/%d", show(val),
		    BANGER_BRIDGE_ADDR, BANGER_BRIDGE_PREFIX);
		return;
	}
	memcpy(host, val, slash - val);
	host[slash - val] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1) {
		parse_error(line, "address \"%s\": \"%s\" is not a "
		    "dotted-quad IPv4 address such as %s", show(val),
		    show(host), BANGER_BRIDGE_ADDR);
		return;
	}
	for (p = slash + 1; isdigit((unsigned char)*p) && prefix <= 32; p++)
		prefix = prefix * 10 + (*p - '0');
	if (p == slash + 1 || *p != '\0' || p - slash > 3 ||
	    prefix < 8 || prefix > 30) {
		parse_error(line, "address \"%s\": prefix length must be "
		    "from 8 to 30", show(val));
		return;
	}
	addr = ntohl(a.s_addr);
	mask = 0xffffffffU << (32 - prefix);
	n.s_addr = htonl(addr & mask);
	inet_ntop(AF_INET, &n, net, sizeof(net));
	a.s_addr = htonl((addr & mask) | 1);
	inet_ntop(AF_INET, &a, first, sizeof(first));
	if ((addr >> 24) == 0 || (addr >> 24) == 127 || (addr >> 28) >= 14) {
		parse_error(line, "address \"%s\": not a usable unicast "
		    "address (0/8, loopback, multicast and reserved ranges "
		    "are not); use a private address such as %s/%d",
		    show(val), BANGER_BRIDGE_ADDR, BANGER_BRIDGE_PREFIX);
		return;
	}
	if ((addr & ~mask) == 0) {
		parse_error(line, "address \"%s\": that is the network "
		    "address of %s/%d; use a host address such as %s/%d",
		    show(val), net, prefix, first, prefix);
		return;
	}
	if ((addr & ~mask) == ~mask) {
		parse_error(line, "address \"%s\": that is the broadcast "
		    "address of %s/%d; use a host address such as %s/%d",
		    show(val), net, prefix, first, prefix);
		return;
	}
	conf->cf_bridge_addr.s_addr = htonl(addr);
	conf->cf_bridge_prefix = prefix;
}

static void
set_egress(const char *val, int line)
{
	size_t	 len = strlen(val), i;
	int	 ok;

	ok = len > 0 && len < sizeof(conf->cf_egress) &&
	    strcmp(val, ".") != 0 && strcmp(val, "..") != 0;
	for (i = 0; ok && i < len; i++)
		if (!isgraph((unsigned char)val[i]) ||
		    strchr("/:\"'\\", val[i]) != NULL)
			ok = 0;
	if (!ok) {
		parse_error(line, "egress \"%s\": invalid interface name; "
		    "expected 1 to %zu characters without '/', ':', quotes, "
		    "backslashes or whitespace, such as \"eth0\"", show(val),
		    sizeof(conf->cf_egress) - 1);
		return;
	}
	strlcpy(conf->cf_egress, val, sizeof(conf->cf_egress));
}

static void
set_domain(const char *val, int line)
{
	char		 d[BANGER_DOMAIN_MAX];
	const char	*why = NULL;
	size_t		 len = strlen(val), i, label = 0;

	if (len == 0 || len >= sizeof(d))
		why = "must be 1 to 253 characters long";
	for (i = 0; why == NULL && i <= len; i++) {
		d[i] = tolower((unsigned char)val[i]);
		if (d[i] == '.' || d[i] == '\0') {
			if (label == 0)
				why = "has an empty label";
			else if (label > 63)
				why = "has a label longer than 63 characters";
			else if (d[i - 1] == '-')
				why = "has a label ending with '-'";
			label = 0;
		} else if (label == 0 && d[i] == '-')
			why = "has a label starting with '-'";
		else if (!islower((unsigned char)d[i]) &&
		    !isdigit((unsigned char)d[i]) && d[i] != '-')
			why = "may only contain letters, digits, '-' and '.'";
		else
			label++;
	}
	if (why != NULL) {
		parse_error(line, "domain \"%s\": %s; expected a DNS name "
		    "such as \"%s\"", show(val), why, BANGER_DOMAIN);
		return;
	}
	strlcpy(conf->cf_domain, d, sizeof(conf->cf_domain));
}

static void
set_vmuids(int64_t min, int64_t max, int line)
{
	if (min < 1 || min > VM_UID_LIMIT)
		parse_error(line, "vm-uids %lld to %lld: the first uid must "
		    "be from 1 to %lld", (long long)min, (long long)max,
		    VM_UID_LIMIT - 1);
	else if (max < 1 || max > VM_UID_LIMIT)
		parse_error(line, "vm-uids %lld to %lld: the last uid must "
		    "be from 2 to %lld", (long long)min, (long long)max,
		    VM_UID_LIMIT);
	else if (min >= max)
		parse_error(line, "vm-uids %lld to %lld: the first uid must "
		    "be lower than the last", (long long)min, (long long)max);
	else {
		conf->cf_vm_uid_min = (uid_t)min;
		conf->cf_vm_uid_max = (uid_t)max;
	}
}

static void
set_maxvms(int64_t n, int line)
{
	if (n < 1 || n > BANGER_MAX_VMS_LIMIT)
		parse_error(line, "max-vms %lld: expected a number from 1 to %d",
		    (long long)n, BANGER_MAX_VMS_LIMIT);
	else
		conf->cf_max_vms = (int)n;
}

static int
is_loopback_host(const char *host, size_t len)
{
	char		 buf[INET_ADDRSTRLEN];
	struct in_addr	 a;

	if ((len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (len == 5 && strncmp(host, "[::1]", 5) == 0))
		return 1;
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a) == 1 &&
	    (ntohl(a.s_addr) >> 24) == 127;
}

static void
set_update(const char *url, int allow_http, int line)
{
	const char	*auth, *end, *host, *port, *p;
	size_t		 hostlen;
	long		 portnum;
	int		 http;

	if (strlen(url) >= sizeof(conf->cf_update_url)) {
		parse_error(line, "update url \"%s\": too long (at most %zu "
		    "bytes)", show(url), sizeof(conf->cf_update_url) - 1);
		return;
	}
	for (p = url; *p != '\0'; p++) {
		if (!isgraph((unsigned char)*p)) {
			parse_error(line, "update url \"%s\": must not "
			    "contain whitespace or control characters",
			    show(url));
			return;
		}
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		http = 0;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		http = 1;
		auth = url + 7;
	} else {
		parse_error(line, "update url \"%s\": expected an https:// "
		    "URL", show(url));
		return;
	}
	end = auth + strcspn(auth, "/?#");
	host = auth;
	if (memchr(auth, '@', end - auth) != NULL) {
		parse_error(line, "update url \"%s\": must not contain a "
		    "user name or password", show(url));
		return;
	}
	if (*host == '[') {
		p = memchr(host, ']', end - host);
		port = p != NULL ? p + 1 : NULL;
	} else {
		port = memchr(host, ':', end - host);
		if (port == NULL)
			port = end;
	}
	if (port == NULL || port == host ||
	    (port < end && *port != ':') || (*host == '[' && port - host < 3)) {
		parse_error(line, "update url \"%s\": expected a host name "
		    "after the scheme, such as https://example.org/path",
		    show(url));
		return;
	}
	hostlen = port - host;
	if (port < end) {
		portnum = 0;
		for (p = port + 1; p < end && isdigit((unsigned char)*p) &&
		    portnum <= 65535; p++)
			portnum = portnum * 10 + (*p - '0');
		if (p != end || p == port + 1 || portnum < 1 ||
		    portnum > 65535) {
			parse_error(line, "update url \"%s\": the port must "
			    "be a number from 1 to 65535", show(url));
			return;
		}
	}
	if (http && !allow_http) {
		parse_error(line, "update url \"%s\": expected an https:// "
		    "URL (plain http:// needs allow-http and a loopback "
		    "host)", show(url));
		return;
	}
	if (http && !is_loopback_host(host, hostlen)) {
		parse_error(line, "update url \"%s\": allow-http only "
		    "permits a loopback host (127.0.0.0/8, localhost or "
		    "[::1]); use https:// for other hosts", show(url));
		return;
	}
	strlcpy(conf->cf_update_url, url, sizeof(conf->cf_update_url));
	conf->cf_update_allow_http = allow_http;
}

static void
set_cpus(int64_t n, int line)
{
	if (n < CPUS_MIN || n > CPUS_MAX) {
		parse_error(line, "cpus %lld: expected a number from %d to %d",
		    (long long)n, CPUS_MIN, CPUS_MAX);
		return;
	}
	conf->cf_def_cpus = n;
}

/*
 * A size with an optional K, M, G or T suffix (powers of 1024) and an
 * optional fraction, as scan_scaled(3) reads it.  Returns 0 or -1.
 */
static int
scan_size(const char *s, uint64_t *bytes)
{
	uint64_t	 whole = 0, frac = 0, fracdiv = 1, r;
	int		 shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return -1;
		for (; isdigit((unsigned char)*s); s++) {
			if (fracdiv < 1000000) {
				frac = frac * 10 + (*s - '0');
				fracdiv *= 10;
			}
		}
	}
	switch (*s) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	case 'T': case 't':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*s != '\0' && *++s != '\0')
		return -1;
	if (shift == 0 && fracdiv > 1)
		return -1;
	if (whole > (UINT64_MAX >> shift))
		return -1;
	r = whole << shift;
	if (r + ((frac << shift) / fracdiv) < r)
		return -1;
	*bytes = r + (frac << shift) / fracdiv;
	return 0;
}

/* A size from a word, or a plain number counted in `unit' bytes. */
static int
parse_size(const char *s, int64_t n, uint64_t unit, uint64_t *bytes)
{
	const char	*errstr;

	if (s != NULL && is_number(s)) {
		n = strtonum(s, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			return -1;
		s = NULL;
	}
	if (s != NULL)
		return scan_size(s, bytes);
	if (n < 0 || (uint64_t)n > UINT64_MAX / unit)
		return -1;
	*bytes = (uint64_t)n * unit;
	return 0;
}

static void
set_memory(const char *s, int64_t n, int line)
{
	char		 val[32];
	uint64_t	 bytes;

	if (s == NULL) {
		snprintf(val, sizeof(val), "%lld", (long long)n);
		s = val;
	}
	if (parse_size(s, n, 1ULL << 20, &bytes) == -1)
		parse_error(line, "memory \"%s\": invalid size; expected a "
		    "number of MiB or a size with a K, M, G or T suffix, "
		    "such as 1G", show(s));
	else if (bytes % (1ULL << 20) != 0)
		parse_error(line, "memory \"%s\": not a whole number of MiB",
		    show(s));
	else if ((bytes >> 20) < MEMORY_MIN || (bytes >> 20) > MEMORY_MAX)
		parse_error(line, "memory \"%s\": must be from 128M to 1T",
		    show(s));
	else
		conf->cf_def_memory = bytes >> 20;
}

static void
set_disk(const char *s, int64_t n, int line)
{
	char		 val[32];
	uint64_t	 bytes;

	if (s == NULL) {
		snprintf(val, sizeof(val), "%lld", (long long)n);
		s = val;
	}
	if (parse_size(s, n, 1, &bytes) == -1)
		parse_error(line, "disk \"%s\": invalid size; expected a "
		    "number of bytes or a size with a K, M, G or T suffix, "
		    "such as 8G", show(s));
	else if (bytes < DISK_MIN || bytes > DISK_MAX)
		parse_error(line, "disk \"%s\": must be from 256M to 16T",
		    show(s));
	else if (bytes % DISK_ALIGN != 0)
		parse_error(line, "disk \"%s\": must be a whole number of "
		    "512-byte sectors", show(s));
	else
		conf->cf_def_disk = bytes;
}

static int
valid_image_name(const char *s)
{
	size_t	 i;

	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= BANGER_NAME_MAX - 1)
			return 0;
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-')
			return 0;
	}
	return 1;
}

static void
image_begin(const char *name, int line)
{
	struct imgrec	*r;
	size_t		 i;

	memset(img_seen, 0, sizeof(img_seen));
	if ((img = calloc(1, sizeof(*img))) == NULL)
		fatal("%s", __func__);
	TAILQ_INSERT_TAIL(&conf->cf_images, img, img_entry);

	if (!valid_image_name(name)) {
		parse_error(line, "image \"%s\": invalid name; expected 1 to "
		    "%d of [a-z0-9-], starting with a letter or digit",
		    show(name), BANGER_NAME_MAX - 1);
		return;
	}
	strlcpy(img->img_name, name, sizeof(img->img_name));
	for (i = 0; i < nimgrecs; i++) {
		r = &imgrecs[i];
		if (strcmp(r->name, name) != 0)
			continue;
		if (strcmp(r->at.file, file->name) == 0)
			parse_error(line, "image \"%s\" already defined at "
			    "line %d", name, r->at.line);
		else
			parse_error(line, "image \"%s\" already defined at "
			    "%s:%d", name, r->at.file, r->at.line);
		return;
	}
	if ((r = reallocarray(imgrecs, nimgrecs + 1, sizeof(*r))) == NULL)
		fatal("%s", __func__);
	imgrecs = r;
	r = &imgrecs[nimgrecs++];
	r->name = img->img_name;
	r->at.file = file->name;
	r->at.line = line;
}

/*
 * boot-args may span lines: each newline with the blanks around it
 * becomes one space.  Returns NULL for other control characters.
 */
static char *
fold_bootargs(const char *s)
{
	char	*buf, *p;

	p = buf = arena_alloc(strlen(s) + 1);
	for (; *s != '\0'; s++) {
		if (*s == '\n') {
			while (p > buf && (p[-1] == ' ' || p[-1] == '\t'))
				p--;
			while (s[1] == ' ' || s[1] == '\t' || s[1] == '\n')
				s++;
			if (p > buf && s[1] != '\0')
				*p++ = ' ';
		} else if (iscntrl((unsigned char)*s) && *s != '\t')
			return NULL;
		else
			*p++ = *s == '\t' ? ' ' : *s;
	}
	*p = '\0';
	return buf;
}

static void
image_opt(enum imgopt opt, const char *val, int line)
{
	static const char *const names[I_MAX] = {
		[I_KERNEL] = "kernel", [I_INITRD] = "initrd",
		[I_ROOTFS] = "rootfs", [I_BOOTARGS] = "boot-args",
	};
	const char	*why;
	char		*args;
	size_t		 off;

	if (img_seen[opt] != 0) {
		parse_error(line, "%s already set at line %d in this image",
		    names[opt], img_seen[opt]);
		return;
	}
	img_seen[opt] = line;
	switch (opt) {
	case I_KERNEL:
		set_path(img->img_kernel, sizeof(img->img_kernel), "kernel",
		    val, line);
		break;
	case I_INITRD:
		set_path(img->img_initrd, sizeof(img->img_initrd), "initrd",
		    val, line);
		break;
	case I_ROOTFS:
		set_path(img->img_rootfs, sizeof(img->img_rootfs), "rootfs",
		    val, line);
		break;
	case I_BOOTARGS:
		if ((args = fold_bootargs(val)) == NULL)
			parse_error(line, "boot-args \"%s\": must not contain "
			    "control characters", show(val));
		else if (strlen(args) >= sizeof(img->img_bootargs))
			parse_error(line, "boot-args \"%s\": too long (at most "
			    "%zu bytes)", show(args),
			    sizeof(img->img_bootargs) - 1);
		else if (valid_bootargs(args, strlen(args), &off, &why) == -1)
			parse_error(line, "boot-args \"%s\": byte 0x%02x at "
			    "offset %zu is %s; Firecracker takes only 0x20 "
			    "to 0x7e", show(args), (unsigned char)args[off],
			    off, why);
		else
			strlcpy(img->img_bootargs, args,
			    sizeof(img->img_bootargs));
		break;
	case I_MAX:
		break;
	}
}

static void
image_end(int line)
{
	if (img_seen[I_KERNEL] == 0)
		parse_error(line, "image \"%s\": missing kernel; each image "
		    "needs a kernel and a rootfs", show(img->img_name));
	if (img_seen[I_ROOTFS] == 0)
		parse_error(line, "image \"%s\": missing rootfs; each image "
		    "needs a kernel and a rootfs", show(img->img_name));
	img = NULL;
}

/* A registry block: its domain, once in the configuration. */
static void
registry_begin(const char *domain, int line)
{
	struct conf_registry	*r;

	reg_seen_ca = reg_seen_insecure = 0;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		fatal("%s", __func__);
	if (!image_ref_domain_ok(domain)) {
		parse_error(line, "registry \"%s\": expected a host name or "
		    "address with an optional :PORT, as image references "
		    "name it (docker.io, registry.example:5000)",
		    show(domain));
		TAILQ_INSERT_TAIL(&conf->cf_registries, reg, reg_entry);
		return;		/* read on: the configuration is refused */
	}
	TAILQ_FOREACH(r, &conf->cf_registries, reg_entry)
		if (strcmp(r->reg_domain, domain) == 0)
			parse_error(line, "registry \"%s\" already defined",
			    show(domain));
	strlcpy(reg->reg_domain, domain, sizeof(reg->reg_domain));
	TAILQ_INSERT_TAIL(&conf->cf_registries, reg, reg_entry);
}

/*
 * Another host a registry's pulls may reach (a token service, a CDN),
 * or with mirror a registry to ask for its images first.
 */
static void
registry_host(const char *host, int line, int mirror)
{
	const char	*what = mirror ? "mirror" : "host";
	size_t		 max = mirror ? BANGER_REGISTRY_MIRRORS :
			    BANGER_REGISTRY_HOSTS;
	size_t		*n = mirror ? &reg->reg_nmirrors : &reg->reg_nhosts;

	if (!image_ref_domain_ok(host) ||
	    strlen(host) >= sizeof(reg->reg_hosts[0]))
		parse_error(line, "%s \"%s\": expected a host name or "
		    "address with an optional :PORT", what, show(host));
	else if (*n == max)
		parse_error(line, "%s \"%s\": a registry has at most %zu "
		    "%ss", what, show(host), max, what);
	else
		strlcpy(mirror ? reg->reg_mirrors[(*n)++] :
		    reg->reg_hosts[(*n)++], host, sizeof(reg->reg_hosts[0]));
}

/*
 * The interface.
 */

struct bangerd_config *
config_new(void)
{
	struct bangerd_config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	strlcpy(c->cf_path, BANGERD_CONF, sizeof(c->cf_path));
	strlcpy(c->cf_statedir, BANGER_STATEDIR, sizeof(c->cf_statedir));
	strlcpy(c->cf_socket, BANGER_SOCKET, sizeof(c->cf_socket));
	strlcpy(c->cf_sockgroup, BANGER_SOCKGROUP, sizeof(c->cf_sockgroup));
	strlcpy(c->cf_user, BANGER_USER, sizeof(c->cf_user));
	strlcpy(c->cf_bridge, BANGER_BRIDGE, sizeof(c->cf_bridge));
	if (inet_pton(AF_INET, BANGER_BRIDGE_ADDR, &c->cf_bridge_addr) != 1)
		fatalx("%s: bad BANGER_BRIDGE_ADDR", __func__);
	c->cf_bridge_prefix = BANGER_BRIDGE_PREFIX;
	strlcpy(c->cf_domain, BANGER_DOMAIN, sizeof(c->cf_domain));
	strlcpy(c->cf_firecracker, BANGER_FIRECRACKER,
	    sizeof(c->cf_firecracker));
	c->cf_vm_uid_min = BANGER_VM_UID_MIN;
	c->cf_vm_uid_max = BANGER_VM_UID_MAX;
	c->cf_max_vms = BANGER_MAX_VMS;
	c->cf_storage = STORAGE_AUTO;
	c->cf_def_cpus = BANGER_DEF_CPUS;
	c->cf_def_memory = BANGER_DEF_MEMORY;
	c->cf_def_disk = BANGER_DEF_DISK;
	TAILQ_INIT(&c->cf_images);
	TAILQ_INIT(&c->cf_registries);
	return c;
}

void
config_free(struct bangerd_config *c)
{
	struct conf_image	*i;
	struct conf_registry	*r;

	if (c == NULL)
		return;
	while ((i = TAILQ_FIRST(&c->cf_images)) != NULL) {
		TAILQ_REMOVE(&c->cf_images, i, img_entry);
		free(i);
	}
	while ((r = TAILQ_FIRST(&c->cf_registries)) != NULL) {
		TAILQ_REMOVE(&c->cf_registries, r, reg_entry);
		free(r);
	}
	free(c);
}

const char *
config_error(void)
{
	return errors > 0 ? first_error : NULL;
}

/* Forget everything but the -D macros. */
static void
parse_cleanup(void)
{
	struct sym	*sym, *next;

	while (file != NULL)
		popfile();
	topfile = NULL;
	include_depth = 0;
	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next) {
		if (!sym->used)
			log_debug("macro \"%s\" not used", sym->nam);
		sym->used = 0;
		if (!sym->persist) {
			TAILQ_REMOVE(&symhead, sym, entry);
			free(sym->nam);
			free(sym->val);
			free(sym);
		}
	}
	free(imgrecs);
	imgrecs = NULL;
	nimgrecs = 0;
	img = NULL;
	memset(seen, 0, sizeof(seen));
	arena_free();
	conf = NULL;
}

int
config_parse(struct bangerd_config *c, const char *path)
{
	uint64_t uids;
	int	 saved_errno = 0;

	conf = c;
	errors = 0;
	first_error[0] = '\0';
	last_token = '\n';
	last_text[0] = '\0';
	last_kw = NULL;
	last_kw_line = 0;

	if (strlen(path) >= sizeof(c->cf_path)) {
		parse_error_at(path, 0, "path too long (at most %zu bytes)",
		    sizeof(c->cf_path) - 1);
		parse_cleanup();
		errno = ENAMETOOLONG;
		return -1;
	}
	errno = 0;
	if ((file = pushfile(path, 0)) == NULL) {
		saved_errno = errno != 0 ? errno : EINVAL;
		parse_error_at(path, 0, "cannot open: %s",
		    open_error(saved_errno));
		parse_cleanup();
		errno = saved_errno;
		return -1;
	}
	topfile = file;
	strlcpy(c->cf_path, path, sizeof(c->cf_path));

	if (yyparse() != 0 && errors == 0)
		parse_error_at(path, 0, "cannot parse the file");

	/* Checks across settings. */
	/* Each VM has a uid of its own: a default max-vms fits the range. */
	uids = (uint64_t)c->cf_vm_uid_max - c->cf_vm_uid_min + 1;
	if (errors == 0 && uids < (uint64_t)c->cf_max_vms) {
		if (seen[S_MAXVMS].file == NULL)
			c->cf_max_vms = (int)uids;
		else
			parse_error_at(seen[S_MAXVMS].file,
			    seen[S_MAXVMS].line, "max-vms %d: more than the "
			    "%llu uids of vm-uids %llu to %llu, one for each "
			    "VM", c->cf_max_vms, (unsigned long long)uids,
			    (unsigned long long)c->cf_vm_uid_min,
			    (unsigned long long)c->cf_vm_uid_max);
	}
	if (errors == 0 && c->cf_egress[0] != '\0' &&
	    strcmp(c->cf_egress, c->cf_bridge) == 0)
		parse_error_at(seen[S_EGRESS].file, seen[S_EGRESS].line,
		    "egress \"%s\": the egress interface cannot be the "
		    "bridge itself", show(c->cf_egress));

	parse_cleanup();
	return errors > 0 ? -1 : 0;
}

/*
 * config_print: the effective configuration, in bangerd.conf syntax.
 */

static void
print_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
print_size(FILE *fp, uint64_t bytes)
{
	static const char	 units[] = "KMGT";
	int			 i;

	for (i = 3; i >= 0; i--) {
		if (bytes != 0 && bytes % (1ULL << (10 * (i + 1))) == 0) {
			fprintf(fp, "%llu%c",
			    (unsigned long long)(bytes >> (10 * (i + 1))),
			    units[i]);
			return;
		}
	}
	fprintf(fp, "%llu", (unsigned long long)bytes);
}

void
config_print(FILE *fp, const struct bangerd_config *c)
{
	const struct conf_image	*i;
	const struct conf_registry *r;
	char			 addr[INET_ADDRSTRLEN];
	size_t			 h;

	fprintf(fp, "# %s\n", c->cf_path);
	fprintf(fp, "state-dir ");
	print_string(fp, c->cf_statedir);
	fprintf(fp, "\nsocket ");
	print_string(fp, c->cf_socket);
	fprintf(fp, "\nsocket group ");
	print_string(fp, c->cf_sockgroup);
	fprintf(fp, "\nuser ");
	print_string(fp, c->cf_user);

	if (inet_ntop(AF_INET, &c->cf_bridge_addr, addr, sizeof(addr)) == NULL)
		strlcpy(addr, "0.0.0.0", sizeof(addr));
	fprintf(fp, "\n\nbridge ");
	print_string(fp, c->cf_bridge);
	fprintf(fp, " {\n\taddress %s/%d\n", addr, c->cf_bridge_prefix);
	if (c->cf_egress[0] != '\0') {
		fprintf(fp, "\tegress ");
		print_string(fp, c->cf_egress);
		fprintf(fp, "\n");
	}
	fprintf(fp, "}\ndomain ");
	print_string(fp, c->cf_domain);

	fprintf(fp, "\n\nfirecracker ");
	print_string(fp, c->cf_firecracker);
	fprintf(fp, "\n");
	if (c->cf_jailer[0] != '\0') {
		fprintf(fp, "jailer ");
		print_string(fp, c->cf_jailer);
		fprintf(fp, "\n");
	}
	fprintf(fp, "vm-uids %llu to %llu\n",
	    (unsigned long long)c->cf_vm_uid_min,
	    (unsigned long long)c->cf_vm_uid_max);
	fprintf(fp, "max-vms %d\n", c->cf_max_vms);
	if (c->cf_storage >= 0 && c->cf_storage <= STORAGE_COPY)
		fprintf(fp, "storage %s\n", storage_names[c->cf_storage]);
	if (c->cf_update_url[0] != '\0') {
		fprintf(fp, "update url ");
		print_string(fp, c->cf_update_url);
		fprintf(fp, "%s\n", c->cf_update_allow_http ?
		    " allow-http" : "");
	}

	if (c->cf_registry_auth[0] != '\0') {
		fprintf(fp, "registry-auth ");
		print_string(fp, c->cf_registry_auth);
		fprintf(fp, "\n");
	}
	TAILQ_FOREACH(r, &c->cf_registries, reg_entry) {
		fprintf(fp, "registry ");
		print_string(fp, r->reg_domain);
		fprintf(fp, " {\n");
		if (r->reg_insecure)
			fprintf(fp, "\tinsecure\n");
		if (r->reg_cafile[0] != '\0') {
			fprintf(fp, "\tca-file ");
			print_string(fp, r->reg_cafile);
			fprintf(fp, "\n");
		}
		for (h = 0; h < r->reg_nhosts; h++) {
			fprintf(fp, "\thost ");
			print_string(fp, r->reg_hosts[h]);
			fprintf(fp, "\n");
		}
		for (h = 0; h < r->reg_nmirrors; h++) {
			fprintf(fp, "\tmirror ");
			print_string(fp, r->reg_mirrors[h]);
			fprintf(fp, "\n");
		}
		fprintf(fp, "}\n");
	}

	fprintf(fp, "\ndefaults {\n\tcpus %d\n\tmemory ", c->cf_def_cpus);
	print_size(fp, c->cf_def_memory << 20);
	fprintf(fp, "\n\tdisk ");
	print_size(fp, c->cf_def_disk);
	fprintf(fp, "\n}\n");

	TAILQ_FOREACH(i, &c->cf_images, img_entry) {
		fprintf(fp, "\nimage ");
		print_string(fp, i->img_name);
		fprintf(fp, " {\n\tkernel ");
		print_string(fp, i->img_kernel);
		fprintf(fp, "\n");
		if (i->img_initrd[0] != '\0') {
			fprintf(fp, "\tinitrd ");
			print_string(fp, i->img_initrd);
			fprintf(fp, "\n");
		}
		fprintf(fp, "\trootfs ");
		print_string(fp, i->img_rootfs);
		fprintf(fp, "\n");
		if (i->img_bootargs[0] != '\0') {
			fprintf(fp, "\tboot-args ");
			print_string(fp, i->img_bootargs);
			fprintf(fp, "\n");
		}
		fprintf(fp, "}\n");
	}
}
