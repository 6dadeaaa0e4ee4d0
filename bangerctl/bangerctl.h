/*
 * bangerctl: the admin tool for bangerd.
 */
#ifndef BANGERCTL_H
#define BANGERCTL_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "imsg.h"
#include "proto.h"

struct ctl_cmd {
	const char	*name;
	int		(*run)(int, char **);
	const char	*usage;		/* arguments, after the name */
	const char	*help;
};

/* main.c */
extern const char	*ctl_socket;
int	 ctl_connect(struct imsgbuf *);
int	 ctl_send(struct imsgbuf *, uint32_t, const void *, size_t);
int	 ctl_recv(struct imsgbuf *, struct imsg *);
int	 ctl_result(struct imsg *, int);
int	 ctl_request(uint32_t, const void *, size_t);
__attribute__((__noreturn__)) void cmd_usage(const struct ctl_cmd *);

/* vm.c */
int	 cmd_vm(int, char **);
void	 vm_usage_list(FILE *);
int	 parse_size(const char *, const char *, uint64_t *);

/* vmls.c */
int	 cmd_net(int, char **);
int	 vm_ls(int, char **);
int	 vm_show(int, char **);
int	 vm_collect(uint32_t, const void *, size_t, struct vm_info **,
	    size_t *);

/* image.c */
int	 cmd_image(int, char **);
void	 image_usage_list(FILE *);

/* update.c */
int	 cmd_update(int, char **);
__attribute__((__noreturn__)) void vm_usage(void);
int	 check_name(const char *);

/* snapshot.c */
int	 vm_snapshot(int, char **);
int	 vm_restore(int, char **);

/* console.c */
int	 vm_logs(int, char **);
int	 vm_console(int, char **);
int64_t	 now_ms(void);

/* output.c */
const char *fmt_duration(int64_t, char *, size_t);
const char *fmt_size(uint64_t, char *, size_t);
#define PROGRESS_WIDTH	30
void	 progress_bar(const char *, uint64_t, uint64_t);
void	 json_print(json_t *);

#define JW_DEPTH	8
struct jw {
	FILE	*jw_fp;
	int	 jw_depth;		/* containers open */
	int	 jw_n[JW_DEPTH];	/* members or elements in each */
	char	*jw_buf;		/* written, not yet out */
	size_t	 jw_len;
	size_t	 jw_size;
};
void	 jw_flush(struct jw *);
void	 jw_free(struct jw *);
void	 jw_open(struct jw *, char);
void	 jw_next(struct jw *);
void	 jw_close(struct jw *, char);
void	 jw_raw(struct jw *, const char *, size_t);
void	 jw_key(struct jw *, const char *);
void	 jw_str(struct jw *, const char *, size_t);
void	 jw_int(struct jw *, int64_t);
void	 jw_null(struct jw *);
int	 jw_ascii(const char *, size_t);
const char *worker_state_name(int);

#endif /* BANGERCTL_H */
