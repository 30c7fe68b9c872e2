/* SPDX-License-Identifier: MIT */
/*
 * Leaks: resources the tree (a root and its descendants) shares with
 * processes outside it.
 *
 * One scan reads every process of the host once (leaks.c), then each
 * detector adds the leaks of its kinds to the scan's list:
 *   leak_tasks.c    namespaces, parent/session/process group, tracer, kcmp
 *   leak_memory.c   shared mappings, SysV shm/sem/msg
 *   leak_files.c    descriptors: pipes, FIFOs, ttys, memfd, deleted and
 *                   volatile files, file locks
 *   leak_sockets.c  unix, TCP and UDP sockets (sock_diag)
 * leaks.c then applies the policy and turns the list into wire messages.
 *
 * Everything a scan allocates is freed by leaks_scan_free, or is arena
 * memory (strings, holders) that lives until the request is answered.
 */
#ifndef CKPT_LEAKS_H
#define CKPT_LEAKS_H

#include "helper.h"

typedef Checkpoint__Helper__V1__Leak Leak;
typedef Checkpoint__Helper__V1__LeakHolder LeakHolder;
typedef Checkpoint__Helper__V1__LeakChoice LeakChoice;
typedef Checkpoint__Helper__V1__LeakRule LeakRule;
typedef Checkpoint__Helper__V1__LeaksResult LeaksResult;
typedef Checkpoint__Helper__V1__LeakScanStats LeakScanStats;
typedef Checkpoint__Helper__V1__LeakReport LeakReport;
typedef Checkpoint__Helper__V1__LeakChange LeakChange;

#define LK(x) CHECKPOINT__HELPER__V1__LEAK_KIND__LEAK_KIND_##x
#define LP(x) CHECKPOINT__HELPER__V1__LEAK_POLICY__LEAK_POLICY_##x
#define LEAK_KIND_MAX LK(VOLATILE_FILE)
#define LEAK_POLICY_MAX LP(SAVE)

#define MAX_LEAK_HOLDERS 16		/* outside holders sent per leak */
#define MAX_LEAK_CHOICES 5
#define MAX_POLICY_RULES 256
#define MAX_RESOURCE_LEN 512


/* ---- the host, read once per scan (leaks.c) ---------------------------- */

struct host_proc {
	pid_t pid, ppid, pgid, sid;
	pid_t tracer;			/* TracerPid, 0 when none */
	uint32_t tty_nr;
	char state;
	char comm[64];
	bool in_tree;
	/* this helper and the CRIU it runs: never counted as holders */
	bool excluded;
	uint64_t ns[NS_KINDS];		/* inode of each namespace, 0 when unreadable */
	uint64_t vsize;			/* bytes of address space, from stat */
	/* descriptors (detect_files counts them; fds_read false: unknown) */
	uint32_t nfds;
	bool fds_read;
};

struct fd_table;			/* leak_files.c */

struct leak_holder {
	pid_t pid;
	const char *how;		/* arena */
	bool has_fd;
	int fd;
	bool readable, writable;
};

struct leak_choice {
	int policy;			/* LP(...) */
	const char *criu_option;	/* "" when none */
	const char *effect;
};

struct leak {
	int kind;			/* LK(...) */
	const char *resource;		/* the identity: same resource, same text in every scan */
	const char *summary, *risk, *criu;
	struct leak_holder *inside, *outside;
	size_t ninside, noutside, cap_inside, cap_outside;
	/*
	 * Outside holders counted but not in outside[]: a detector may list
	 * only the first MAX_LEAK_HOLDERS (every process of the host is in
	 * its namespaces); the wire's outside_count adds them.
	 */
	size_t outside_unlisted;
	int default_policy;		/* LP(...) */
	struct leak_choice choices[MAX_LEAK_CHOICES];
	size_t nchoices;
	bool host_own;
	/*
	 * A leak even with no outside holder: the resource itself is outside
	 * (a network peer, a file system, a lock others can wait on, the
	 * host's namespaces). Other leaks without outside holders are dropped.
	 */
	bool standalone;
	uint64_t object;		/* kernel object (pipe or namespace inode), 0 when none */
	int policy;			/* set by leaks_apply_policy */
	const char *policy_note;
};

struct host_scan {
	pid_t root;
	pid_t self;
	struct host_proc *procs;	/* sorted by pid */
	size_t nprocs, tree_procs;
	const struct host_proc *init;	/* pid 1, NULL when unreadable */
	struct fd_table *fds;		/* owned by leak_files.c */
	uint32_t descriptors;		/* descriptors read, for the stats */
	struct leak **leaks;
	size_t nleaks, cap_leaks;
};

/* Reads the host, marks the tree of root and runs every detector. */
int leaks_scan(pid_t root, struct host_scan *s, struct herr *e);
void leaks_scan_free(struct host_scan *s);

const struct host_proc *host_find(const struct host_scan *s, pid_t pid);
bool host_in_tree(const struct host_scan *s, pid_t pid);

/*
 * The leak of kind with this resource (created with default policy WARN and
 * no text when new). resource is copied.
 */
struct leak *leak_get(struct host_scan *s, int kind, const char *resource);
struct leak *leak_find(const struct host_scan *s, int kind, const char *resource);
/*
 * Records that pid holds lk: inside or outside as the scan says; excluded
 * and unknown pids are skipped. h->pid is ignored; h->how is copied. A pid
 * already holding it through the same fd (or without one) is not added
 * twice.
 */
void leak_hold(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h);
/* Adds a choice: policy, the CRIU option it takes ("" when none), its effect. */
void leak_choice(struct leak *lk, int policy, const char *criu_option, const char *effect);
/* The choices of a leak CRIU dumps as it is: warn (in that order), ignore, fail. */
void leak_warn_choices(struct leak *lk);

/*
 * Enters pid's namespace ns ("net", "ipc", ...; nstype CLONE_NEW*) for a
 * moment, when it is still ino (0: whichever). setns moves the calling
 * thread only, so that thread's own namespace is kept open to come back
 * by: the descriptor to give ns_leave. -1 (errno set) when pid's could not
 * be entered (gone, moved, no privilege): the thread is still in its own.
 */
int ns_enter(pid_t pid, const char *ns, int nstype, uint64_t ino);
/* Back to the namespace ns_enter kept in self (closed); -1 (errno set) when the thread could not return. */
int ns_leave(int self, int nstype);

/* ---- detectors: each adds its kinds' leaks; -1 only on a failure that
 * makes the whole scan meaningless (e was set) ------------------------- */

/* leak_tasks.c */
int detect_namespaces(struct host_scan *s, struct herr *e);
int detect_relatives(struct host_scan *s, struct herr *e);	/* parent, session, group, tracer */
int detect_shared_tasks(struct host_scan *s, struct herr *e);	/* kcmp */

/* leak_memory.c */
int detect_shared_memory(struct host_scan *s, struct herr *e);
int detect_sysv(struct host_scan *s, struct herr *e);

/* leak_files.c: detect_files reads every descriptor first (s->fds) */
int detect_files(struct host_scan *s, struct herr *e);
int detect_file_locks(struct host_scan *s, struct herr *e);
void fd_table_free(struct fd_table *t);

/* leak_sockets.c: uses s->fds */
int detect_sockets(struct host_scan *s, struct herr *e);

/* ---- leak_files.c: the descriptors of the host, read once per scan -------
 *
 * Every descriptor of every process (but the excluded ones) is stat'ed
 * once. A tree descriptor is kept with its size and, for files and FIFOs,
 * its link; an outside one only when it may hold something of the tree's
 * (a socket, a terminal, the same pipe, FIFO, memfd, deleted or locked
 * file as a tree descriptor). Links and access modes are read on demand
 * (fd_entry_detail).
 */

#define FD_TTY_UNREAD (-2)		/* fd_entry.tty_index not read yet */

struct fd_lock;

struct fd_entry {
	uint64_t dev, ino;		/* of the open file */
	uint64_t rdev;			/* devices: the device number */
	uint64_t size;			/* tree descriptors only */
	pid_t pid;
	int fd;
	uint32_t mode;			/* st_mode of the open file (S_IFMT and permissions) */
	uint32_t nlink;			/* tree descriptors only */
	int tty_index;			/* pty masters: the pts number, -1 unknown; FD_TTY_UNREAD */
	bool in_tree;
	bool link_read;			/* link is read (tree FIFOs, files, directories: at once) */
	bool detailed;			/* link, readable, writable are read */
	bool readable, writable;	/* the descriptor's access mode */
	char *link;			/* readlink of /proc/PID/fd/N; NULL until read, or unreadable */
};

struct fd_table {
	struct fd_entry *v;		/* sorted by dev, ino, pid, fd */
	size_t n, cap;
	size_t tree;			/* descriptors of the tree */
	struct fd_lock *tree_locks;	/* the locks of the tree, read with its descriptors */
	size_t ntree_locks;
};

/* The entries of open file dev:ino: their count, the first at *first. */
size_t fd_table_find(const struct fd_table *t, uint64_t dev, uint64_t ino, size_t *first);
/* Reads e's link and access mode once; -1 when the descriptor is gone. */
int fd_entry_detail(struct fd_entry *e);
/* A pty master's pts number (fdinfo tty-index), read once; -1 unknown. */
int fd_entry_tty_index(struct fd_entry *e);
/* "fd 3 (write end)": the holder e is, described by what ("" for the access mode). */
void fd_entry_holder(struct fd_entry *e, const char *what, struct leak_holder *h);
/* How many processes hold lk outside (a process may hold it through several descriptors). */
size_t leak_outside_procs(const struct leak *lk);

/* What a descriptor is, from its link and stat. */
enum fd_class {
	FDC_OTHER,			/* anon inodes, devices, ...: no leak of this file's */
	FDC_FILE,			/* a regular file or directory */
	FDC_PIPE,			/* "pipe:[INO]" */
	FDC_FIFO,			/* a named pipe */
	FDC_SOCKET,			/* "socket:[INO]" */
	FDC_MEMFD,			/* "/memfd:NAME (deleted)" */
	FDC_DELETED,			/* "/path (deleted)" */
	FDC_PTY_MASTER,			/* /dev/ptmx, /dev/pts/ptmx */
	FDC_PTY_SLAVE,			/* /dev/pts/N */
	FDC_TERMINAL,			/* another terminal: vt, serial, console */
};

enum fd_class fd_classify(const char *link, uint32_t mode, uint64_t rdev);
/* The pts number of a pty slave's device, -1 when rdev is none. */
int pts_index(uint64_t rdev);

/* One line of /proc/locks, or of a "lock:" line of fdinfo (without "lock:\t"). */
struct lock_line {
	bool waiter;			/* "->": waits for the lock */
	char cls[8];			/* POSIX, FLOCK, OFDLCK, LEASE, ... */
	char type[8];			/* READ, WRITE, ... */
	pid_t pid;			/* -1 for OFD locks */
	unsigned major, minor;
	uint64_t ino;
	bool has_inode;			/* false: "<none>" */
	uint64_t start;
	bool to_eof;
	uint64_t end;
};

int parse_lock_line(const char *line, struct lock_line *l);

/* A lock the tree holds, as the fdinfo of one of its descriptors shows it. */
struct fd_lock {
	struct lock_line l;
	pid_t pid;			/* the descriptor's */
	int fd;
	uint64_t dev, ino;		/* its open file's, as stat tells (l's may differ) */
	bool done;			/* detect_file_locks told of it */
};

/* ---- leak_sockets.c ------------------------------------------------------ */

/* One socket as sock_diag reports it. */
struct sock_entry {
	uint64_t ino, peer;		/* peer: unix sockets, 0 when none */
	int family;			/* AF_UNIX, AF_INET, AF_INET6 */
	int type;			/* unix: SOCK_STREAM, ...; inet: IPPROTO_TCP, IPPROTO_UDP */
	int state;			/* TCP_ESTABLISHED, TCP_LISTEN, ... */
	uint16_t sport, dport;		/* host order */
	uint8_t src[16], dst[16];
	char name[112];			/* unix: the bound path, "@abstract", or "" */
	uint64_t netns;			/* the network namespace it was found in */
};

/*
 * Decodes one SOCK_DIAG_BY_FAMILY answer (a struct nlmsghdr and its
 * payload, len bytes) of family; -1 when it is malformed.
 */
int sock_diag_parse(int family, const void *msg, size_t len, struct sock_entry *out);
/* "127.0.0.1:5000", "[::1]:5000" */
void sock_addr_text(int family, const uint8_t *addr, uint16_t port, char *out, size_t len);

/* ---- leak_tasks.c ------------------------------------------------------- */

/*
 * As leak_hold, for pid an outside process (not excluded, not yet a holder
 * of lk), while fewer than MAX_LEAK_HOLDERS are listed; past them it is
 * only counted in outside_unlisted (every process may share a namespace).
 */
void leak_hold_counted(struct host_scan *s, struct leak *lk, pid_t pid, const struct leak_holder *h);
/* The outside holders of lk, listed and only counted. */
size_t leak_outside_total(const struct leak *lk);
/* A process that holds nothing of its own: a zombie, or a kernel thread. */
bool host_proc_hollow(const struct host_proc *p);
/* A process outside the tree that may hold something of it: not excluded, not hollow. */
bool host_proc_outsider(const struct host_proc *p);
/* The outsiders in namespace ino of kind i (ns_names[i]). */
size_t host_ns_outsiders(const struct host_scan *s, int i, uint64_t ino);

/* ---- leak_memory.c ------------------------------------------------------ */

/* Read /proc/PID/maps as text even where PROCMAP_QUERY works (the tests of both ways). */
extern bool leak_maps_text;

/* One line of /proc/PID/maps. path points into the line (path_len bytes, 0 when none). */
struct maps_line {
	unsigned long start, end;
	char perms[5];			/* "rw-s" */
	unsigned long long offset, inode;
	unsigned int major, minor;
	const char *path;
	size_t path_len;
};

/* Parses len bytes of line (no newline needed); -1 with errno EINVAL when malformed. */
int parse_maps_line(const char *line, size_t len, struct maps_line *m);

/* One line of /proc/sysvipc/shm, sem or msg: the fields the detectors use. */
struct sysv_line {
	int key, id;			/* id: shmid, semid or msqid */
	unsigned int mode;
	unsigned long long size;	/* shm: bytes; sem: semaphores; msg: bytes queued */
	unsigned long long count;	/* shm: attachments (nattch); msg: messages queued */
	pid_t pid_a, pid_b;		/* shm: cpid, lpid; msg: lspid, lrpid */
};

/* Each parses one line (NUL-terminated); -1 with errno EINVAL for a header or a bad line. */
int parse_sysv_shm(const char *line, struct sysv_line *l);
int parse_sysv_sem(const char *line, struct sysv_line *l);
int parse_sysv_msg(const char *line, struct sysv_line *l);

/* ---- policy and wire (leaks.c) ----------------------------------------- */

const char *leak_kind_name(int kind);		/* "uts-ns", "pipe", ... */
const char *leak_policy_name(int policy);	/* "fail", "warn", ... */
/* Checks rules (kinds, policies, resources); on error fills resp-ready e. */
int leak_rules_valid(LeakRule *const *rules, size_t n, struct herr *e);
/* Sets each leak's policy (and policy_note) from rules and defaults. */
void leaks_apply_policy(struct host_scan *s, LeakRule *const *rules, size_t n);
/* Sorts by kind, then resource. */
void leaks_sort(struct host_scan *s);
Leak *leak_to_pb(const struct host_scan *s, const struct leak *lk);
Leak **leaks_to_pb(const struct host_scan *s, size_t *n);
LeakScanStats *leak_stats_pb(const struct host_scan *s, uint64_t scan_us);

/* ---- dump and restore (leaks.c) ---------------------------------------- */

/* The leaks (with their policy applied) whose policy is fail. */
Leak **leaks_failing(Leak *const *leaks, size_t n, size_t *nfail);
void leaks_refusal(pid_t root, Leak **fail, size_t n, struct herr *e);
/* The CRIU options the policy of these leaks decides. */
DumpOptions *leaks_dump_options(Leak *const *leaks, size_t n);
/* What changed between the scan before a dump and the one at post-dump. */
LeakChange **leaks_compare(Leak *const *before, size_t nb, Leak *const *after, size_t na, size_t *n);

/*
 * What a restore hands CRIU for the leaks the dump gave it as external: the
 * same pipes, reopened through their outside holders, and the same
 * terminals (inherit_fd), and the namespaces to join (join_ns). fds stay open until restore_plan_close.
 */
struct restore_plan {
	InheritFd **inherit;
	size_t ninherit;
	JoinNamespace **join;
	size_t njoin;
	int *fds;
	size_t nfds;
	const char **ttys;		/* the terminals handed in, by path */
	size_t ntty;
};

/* The report as manifest.json shows it (an object). */
int leak_report_json(struct sbuf *b, const LeakReport *r);

/* output: the checkpoint's program pipes, which the restore reconnects itself. */
int leaks_restore_plan(const LeakReport *r, const DumpOptions *o, const OutputPipes *output,
		       struct restore_plan *p, struct herr *e);
void restore_plan_close(struct restore_plan *p);

/*
 * Before a restore of ck kills its running processes (tcp_restore.c): each
 * TCP connection ck saved that they still hold is put in repair mode through
 * a copy kept in held, so that it ends without a word once the tree is gone
 * and its addresses are free for the restored one. CONNECTION_MOVED_ON when
 * one carried data since the checkpoint; nothing is held then.
 */
int tcp_quiet_saved(const Checkpoint *ck, const struct pidlist *running, struct fdlist *held, struct herr *e);

#endif
