/* SPDX-License-Identifier: MIT */
/* Reading processes from /proc: plain facts, no wire messages. */
#ifndef CKPT_PROC_H
#define CKPT_PROC_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "lists.h"

#define MAX_TREE_DEPTH 4096		/* parents walked up from a pid; guards racy reads */

struct proc_stat {
	pid_t pid;
	char comm[64];
	char state;
	pid_t ppid;
	pid_t pgid;
	pid_t sid;
	uint32_t tty_nr;
	uint64_t start_ticks;	/* when it started, in clock ticks since boot */
	uint64_t vsize;		/* bytes of address space; 0 when the line ends early */
};

int parse_proc_stat(const char *buf, struct proc_stat *st);
int read_proc_stat(pid_t pid, struct proc_stat *st);
bool pid_exists(pid_t pid);
/* Whether pid's process has ended: a zombie has (reaping it may be another parent's business). */
bool proc_gone(pid_t pid);
/* The next process id of d, a listing of /proc (its other entries skipped); 0 at its end. */
pid_t next_pid(DIR *d);
/* The same, with its stat in st: those gone before it could be read are skipped. */
pid_t next_proc(DIR *d, struct proc_stat *st);
/* Every process of the host, in /proc order. */
int proc_all(struct pidlist *out, struct herr *e);
/* The pid and all its descendants at this moment, root first. */
int proc_tree(pid_t root, struct pidlist *out, struct herr *e);
/* pid is this process or one of its ancestors (killing or freezing it would end the helper). */
bool is_self_or_ancestor(pid_t pid);

/* The inode of pid's namespace ns ("uts", "net", ...), 0 when it cannot be read. */
uint64_t ns_inode(pid_t pid, const char *ns);
enum ns_kind { NS_UTS, NS_IPC, NS_NET, NS_MNT, NS_PID, NS_USER, NS_CGROUP, NS_TIME, NS_KINDS };
/* "uts", "ipc", "net", "mnt", "pid", "user", "cgroup", "time": LK(UTS_NS) + i for leaks */
extern const char *const ns_names[NS_KINDS];
/* The inode of each of pid's namespaces, in ns_names order; 0 where unreadable. */
void read_ns_inodes(pid_t pid, uint64_t ino[NS_KINDS]);

/* The terminal's device path ("/dev/pts/3") of a stat tty_nr; "" for none; -1 for a device not named. */
int decode_tty_nr(uint32_t tty_nr, char *out, size_t outlen);
/*
 * The arguments in len bytes of /proc/PID/cmdline (arena memory, argv
 * ending with NULL): one per NUL-terminated string, and a last one without
 * its NUL (a program may write over its arguments); none in 0 bytes. Reads
 * nothing past len. It cannot fail (the arena aborts when memory is short).
 */
void parse_cmdline(const char *buf, size_t len, char ***argv, size_t *argc);
int read_cmdline(pid_t pid, char ***argv, size_t *argc);	/* arena memory */
/* The real uid of pid, (uint32_t)-1 when it cannot be read. */
uint32_t read_uid(pid_t pid);

/* A process's threads (arena memory); none when they cannot be read. */
struct proc_threads {
	int32_t *tids;
	char **names;		/* "" when a thread's name cannot be read (it may have just ended) */
	size_t n;
};

void read_threads(pid_t pid, struct proc_threads *t);

#endif
