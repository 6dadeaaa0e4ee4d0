/*
 * The unit-test harness.  Each check prints one line the runner counts:
 *	PASS name
 *	FAIL name: why
 *	SKIP name: why
 * and t_done() returns the program's exit status (1 if anything failed).
 */
#ifndef BANGER_REGRESS_H
#define BANGER_REGRESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int	t_npass, t_nfail, t_nskip;

static inline void
t_pass(const char *name)
{
	printf("PASS %s\n", name);
	fflush(stdout);
	t_npass++;
}

static inline void __attribute__((__format__ (printf, 2, 3)))
t_fail(const char *name, const char *fmt, ...)
{
	va_list	ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	t_nfail++;
}

static inline void __attribute__((__format__ (printf, 2, 3)))
t_skip(const char *name, const char *fmt, ...)
{
	va_list	ap;

	printf("SKIP %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	t_nskip++;
}

/* Record one check: PASS if cond holds, FAIL with the message if not. */
#define T_CHECK(name, cond, ...) do {					\
	if (cond)							\
		t_pass(name);						\
	else								\
		t_fail(name, __VA_ARGS__);				\
} while (0)

static inline int
t_done(void)
{
	return t_nfail ? 1 : 0;
}

#endif /* BANGER_REGRESS_H */
