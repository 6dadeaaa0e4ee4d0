/*
 * Names inside a VM's jail that both sides use: the parent builds the
 * jail (parent/jail.c) and the vm worker reaches Firecracker's API
 * socket, log and metrics through them (vm/vm.c).
 */
#ifndef FCJAIL_H
#define FCJAIL_H

#define JAIL_API_SOCK	"/run/firecracker.socket"
#define JAIL_LOG_NAME	"firecracker.log"	/* in run/ */
#define JAIL_METRICS_NAME "firecracker.metrics"
#define JAIL_LOG	"/run/" JAIL_LOG_NAME	/* as Firecracker sees them */
#define JAIL_METRICS	"/run/" JAIL_METRICS_NAME
#define JAIL_IDENTITY	"identity"	/* the identity drive, in the root */

#endif /* FCJAIL_H */
