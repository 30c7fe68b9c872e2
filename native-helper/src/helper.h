/* SPDX-License-Identifier: MIT */
/*
 * Common declarations of the checkpoint helper.
 *
 * Conventions: functions return 0 (or a count) on success and -1 on
 * failure; a failing function fills the caller's struct herr with an error
 * code of the wire protocol, the errno involved and a sentence of context.
 */
#ifndef CKPT_HELPER_H
#define CKPT_HELPER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <dirent.h>
#include <poll.h>
#include <sys/types.h>

#include "helper.pb-c.h"

#ifndef VERSION
#define VERSION "0.0.0-dev"
#endif

/* Short names for the generated wire types. */
typedef Checkpoint__Helper__V1__Request Request;
typedef Checkpoint__Helper__V1__HelperMessage HelperMessage;
typedef Checkpoint__Helper__V1__Response Response;
typedef Checkpoint__Helper__V1__Error Error;
typedef Checkpoint__Helper__V1__Event Event;
typedef Checkpoint__Helper__V1__Progress Progress;
typedef Checkpoint__Helper__V1__TreeStateChange TreeStateChange;
typedef Checkpoint__Helper__V1__HelloResult HelloResult;
typedef Checkpoint__Helper__V1__CriuFeatures HCriuFeatures;
typedef Checkpoint__Helper__V1__PsResult PsResult;
typedef Checkpoint__Helper__V1__ProcessInfo ProcessInfo;
typedef Checkpoint__Helper__V1__Namespaces Namespaces;
typedef Checkpoint__Helper__V1__FreezeResult FreezeResult;
typedef Checkpoint__Helper__V1__ThawResult ThawResult;
typedef Checkpoint__Helper__V1__DumpOptions DumpOptions;
typedef Checkpoint__Helper__V1__DumpRequest DumpRequest;
typedef Checkpoint__Helper__V1__DumpResult DumpResult;
typedef Checkpoint__Helper__V1__DumpStats DumpStats;
typedef Checkpoint__Helper__V1__Checkpoint Checkpoint;
typedef Checkpoint__Helper__V1__CheckpointProcess CheckpointProcess;
typedef Checkpoint__Helper__V1__RestoreRequest RestoreRequest;
typedef Checkpoint__Helper__V1__RestoreResult RestoreResult;
typedef Checkpoint__Helper__V1__ListResult ListResult;
typedef Checkpoint__Helper__V1__DeleteResult DeleteResult;
typedef Checkpoint__Helper__V1__RenameRequest RenameRequest;
typedef Checkpoint__Helper__V1__RenameResult RenameResult;
typedef Checkpoint__Helper__V1__ImageFilesResult ImageFilesResult;
typedef Checkpoint__Helper__V1__ImageFile ImageFile;
typedef Checkpoint__Helper__V1__ByteRange ByteRange;
typedef Checkpoint__Helper__V1__ReadImageRequest ReadImageRequest;
typedef Checkpoint__Helper__V1__ReadImageResult ReadImageResult;
typedef Checkpoint__Helper__V1__LaunchRequest LaunchRequest;
typedef Checkpoint__Helper__V1__LaunchResult LaunchResult;
typedef Checkpoint__Helper__V1__KillResult KillResult;
typedef Checkpoint__Helper__V1__OutputPipes OutputPipes;
typedef Checkpoint__Helper__V1__ProgramOutput ProgramOutput;
typedef Checkpoint__Helper__V1__ProgramExit ProgramExit;

#define EC(x) CHECKPOINT__HELPER__V1__ERROR_CODE__ERROR_CODE_##x
#define TS(x) CHECKPOINT__HELPER__V1__TREE_STATE__TREE_STATE_##x
#define CGL(x) CHECKPOINT__HELPER__V1__CGROUP_LAYOUT__CGROUP_LAYOUT_##x

#define MAX_FRAME_BYTES (16u * 1024 * 1024)
/*
 * Frames the helper writes: a read_image answer carries up to MAX_READ_BYTES
 * of data plus a few bytes of framing per range, so it may exceed the request
 * limit a little (the client accepts 64 MiB).
 */
#define MAX_OUT_FRAME_BYTES (MAX_FRAME_BYTES + (1u << 20))
#define MAX_ID_LEN 64
#define MAX_NAME_LEN 256
#define MAX_EXTERNAL 64
#define MAX_EXTERNAL_LEN 512
#define DEFAULT_STORE "/var/lib/checkpoint-debugger/checkpoints"
#define MANIFEST_VERSION 1
#define MAX_IMAGE_NAME 255		/* bytes of an image file name */
#define MAX_READ_RANGES 4096u		/* ranges per read_image request */
#define MAX_READ_BYTES (16u << 20)	/* bytes per read_image request */
#define MAX_PROGRAMS 64			/* programs whose output the helper reads */
#define MAX_LAUNCH_ARGS 4096u		/* args, and env entries, per launch */
#define MAX_PATH_LEN 4095		/* bytes of a program or cwd path */
#define KILL_WAIT_MS 5000		/* how long killed processes may take to go */
#define MAX_TREE_DEPTH 4096		/* parents walked up from a pid; guards racy reads */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The little-endian u32 at p: frame lengths, and CRIU's image magics and entry sizes. */
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- errors ------------------------------------------------------------ */

struct herr {
	int code;		/* ERROR_CODE_* of the wire protocol */
	int errnum;		/* errno, 0 when not applicable */
	char msg[1024];
};

void herr_set(struct herr *e, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void herr_prefix(struct herr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Ends a message cut at size bytes with "..." so the cut shows. */
void mark_truncated(char *buf, size_t size);

/* ---- request-lifetime arena -------------------------------------------- */

void *arena_alloc(size_t size);		/* zeroed; aborts on ENOMEM */
char *arena_strdup(const char *s);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void arena_free_all(void);

/* ---- growable string ---------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

int sbuf_add(struct sbuf *b, const char *data, size_t n);
int sbuf_puts(struct sbuf *b, const char *s);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);
int json_escape(struct sbuf *b, const char *s);

/* ---- growable arrays ---------------------------------------------------- */

/*
 * Makes room in *v for need elements of size bytes each: the capacity *cap
 * doubles (from 64), so appending one at a time stays linear. -1 (out of
 * memory) leaves *v and *cap as they were.
 */
int array_grow(void **v, size_t *cap, size_t need, size_t size);

/* ---- pid lists ---------------------------------------------------------- */

struct pidlist {
	pid_t *v;
	size_t n;
	size_t cap;
};

int pidlist_add(struct pidlist *l, pid_t pid);
bool pidlist_has(const struct pidlist *l, pid_t pid);
void pidlist_free(struct pidlist *l);

/* Descriptors held for a while, then closed together. */
struct fdlist {
	int *v;
	size_t n;
	size_t cap;
};

int fdlist_add(struct fdlist *l, int fd);
void fdlist_close(struct fdlist *l);	/* closes them all and frees the list */

/* ---- util.c ------------------------------------------------------------- */

bool valid_checkpoint_id(const char *id);
bool valid_text(const char *s, size_t max);
/* All of fd up to max bytes (EFBIG beyond) into *out (malloc'd, NUL-terminated); the others open and close. */
int read_fd(int fd, char **out, size_t *len, size_t max);
int read_file(const char *path, char **out, size_t *len, size_t max);
int read_file_at(int dirfd, const char *name, char **out, size_t *len, size_t max);
int write_file_at(int dirfd, const char *name, const void *data, size_t len);
int write_temp_at(int dirfd, const char *name, const void *data, size_t len, char *tmp, size_t tmplen);
int write_str_path(const char *path, const char *s);
int mkdir_p(const char *path, mode_t mode);
int remove_tree(const char *path);
uint64_t dir_size(const char *path);
uint64_t now_us(void);
uint64_t now_unix_ms(void);
void sleep_ms(unsigned ms);
int random_hex(char *out, size_t nhex);

/* ---- framing.c ---------------------------------------------------------- */

struct frame_reader {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

/* Appends bytes read from the peer. */
int frame_feed(struct frame_reader *r, const void *data, size_t n);
/*
 * Returns 1 and the payload of the next complete frame (valid until
 * frame_pop/frame_feed), 0 when more bytes are needed, -1 with errno EMSGSIZE when
 * the next frame is longer than max.
 */
int frame_next(struct frame_reader *r, const uint8_t **payload, size_t *len, size_t max);
void frame_pop(struct frame_reader *r);
void frame_reader_free(struct frame_reader *r);
int write_frame(int fd, const uint8_t *payload, size_t len);
int send_helper_message(HelperMessage *m);
int send_response(Response *r);
/* Sends ev, whose kind the caller set, as an event of request id. */
int send_event(uint32_t id, Event *ev);
void emit_progress(uint32_t id, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void emit_tree_state(uint32_t id, pid_t root, int state);
extern int g_out_fd;

/* ---- proc.c ------------------------------------------------------------- */

struct proc_stat {
	pid_t pid;
	char comm[64];
	char state;
	pid_t ppid;
	pid_t pgid;
	pid_t sid;
	uint32_t tty_nr;
	uint64_t vsize;		/* bytes of address space; 0 when the line ends early */
};

int parse_proc_stat(const char *buf, struct proc_stat *st);
int read_proc_stat(pid_t pid, struct proc_stat *st);
bool pid_exists(pid_t pid);
/* The next process id of d, a listing of /proc (its other entries skipped); 0 at its end. */
pid_t next_pid(DIR *d);
/* The same, with its stat in st: those gone before it could be read are skipped. */
pid_t next_proc(DIR *d, struct proc_stat *st);
/* The inode of pid's namespace ns ("uts", "net", ...), 0 when it cannot be read. */
uint64_t ns_inode(pid_t pid, const char *ns);
#define NS_KINDS 8
/* "uts", "ipc", "net", "mnt", "pid", "user", "cgroup", "time": LK(UTS_NS) + i for leaks */
extern const char *const ns_names[NS_KINDS];
/* The inode of each of pid's namespaces, in ns_names order; 0 where unreadable. */
void read_ns_inodes(pid_t pid, uint64_t ino[NS_KINDS]);
int decode_tty_nr(uint32_t tty_nr, char *out, size_t outlen);
/* The pid and all its descendants at this moment, root first. */
int proc_tree(pid_t root, struct pidlist *out, struct herr *e);
int read_cmdline(pid_t pid, char ***argv, size_t *argc);	/* arena memory */
int proc_info(pid_t pid, ProcessInfo *pi);			/* arena memory */

/* ---- cgroup.c ----------------------------------------------------------- */

struct frozen_tree {
	pid_t root;
	int layout;		/* CGL(V2) or CGL(V1) */
	char cgroup[4096];	/* absolute path of the freeze cgroup */
	char mount[4096];	/* mount point of its hierarchy */
	struct pidlist pids;
	char **orig;		/* original cgroup (relative) of each pid */
	struct frozen_tree *next;
};

int cgroup_layout(void);
int cgroup_v2_mount(char *out, size_t len);
int cgroup_v1_freezer_mount(char *out, size_t len);
int freeze_tree(pid_t root, unsigned timeout_ms, struct frozen_tree **out, struct herr *e);
int thaw_tree(struct frozen_tree *t, struct herr *e);
struct frozen_tree *frozen_find(pid_t root);
struct frozen_tree *frozen_find_member(pid_t pid);
/* Forgets the tree; thaws it first when thaw is true. Frees t. */
int frozen_release(struct frozen_tree *t, bool thaw, struct herr *e);
void frozen_release_all(void);

/* ---- criu.c ------------------------------------------------------------- */

#include "rpc.pb-c.h"

struct criu_info {
	bool probed;
	char path[4096];
	char version[64];
	int major, minor, sublevel;
	bool mem_track, lazy_pages, pidfd_store;
	char problem[512];
};

typedef void (*criu_notify_fn)(const char *script, void *arg);

/* The first executable name in the usual system directories or PATH (a static buffer), or NULL. */
const char *find_program(const char *name);
const char *criu_find(const char *configured);
/*
 * How CRIU locks the network while it saves TCP connections: its default
 * (iptables, *method 0) when iptables is there, else nftables when this CRIU
 * can; else CRIU_UNAVAILABLE in words.
 */
int criu_network_lock(const char *criu, int *method, struct herr *e);
/* 0 when CRIU ci can dump inet sockets here; CRIU 4.1 cannot on Linux >= 6.16 (CRIU_UNAVAILABLE, in words). */
int criu_inet_dumpable(const struct criu_info *ci, struct herr *e);
int criu_probe(struct criu_info *ci, const char *path, const char *asked);
/*
 * Runs one request through `criu swrk`. keep_fds lists descriptors the criu
 * child must inherit. *resp is CRIU's final answer (free with
 * criu_resp__free_unpacked). Returns -1 only when the exchange itself failed.
 */
int criu_call(const char *criu_path, CriuReq *req, const int *keep_fds, size_t nkeep,
	      criu_notify_fn notify, void *arg, CriuResp **resp, struct herr *e);
int criu_log_extract(const char *path, char ***lines, size_t *n, char *first_err, size_t first_len);
int decode_stats(const uint8_t *buf, size_t len, DumpStats *out);

/* ---- store.c ------------------------------------------------------------ */

int store_prepare(const char *store, struct herr *e);
int manifest_write(int dirfd, const Checkpoint *c, struct herr *e);
int manifest_json(const Checkpoint *c, struct sbuf *b);
Checkpoint *manifest_read(const char *store, const char *id, struct herr *e);
int store_list(const char *store, ListResult *res, struct herr *e);
int store_delete(const char *store, const char *id, struct herr *e);
/* Renames checkpoint id (valid); *out is its rewritten manifest (arena memory). */
int store_rename(const char *store, const char *id, const char *name, Checkpoint **out, struct herr *e);
/*
 * Keeps the newest keep entries of dir (their names start with a UTC stamp,
 * so they sort by time) and removes the rest: the logs of failed dumps and
 * the work directories of restores, which would otherwise pile up.
 */
int store_prune(const char *dir, size_t keep);
#define KEPT_LOGS 20

/* ---- image.c ------------------------------------------------------------ */

bool valid_image_name(const char *name);
int checkpoint_open(const char *store, const char *id, struct herr *e);
int image_files_list(const char *store, const char *id, ImageFilesResult *res, struct herr *e);
int image_read_ranges(const char *store, const char *id, ByteRange *const *ranges, size_t n,
		      ReadImageResult *res, struct herr *e);

/* ---- program.c ---------------------------------------------------------- */

struct launch_spec {
	const char *program;
	char *const *argv;	/* NULL-terminated; argv[0] is program */
	char *const *envp;	/* NULL-terminated: the whole environment */
	const char *cwd;
};

/*
 * Starts a program whose output and exit the helper reports as events
 * carrying request id; an exec that fails is this call's error.
 */
int program_launch(const struct launch_spec *s, uint32_t id, pid_t *pid, struct herr *e);
/* Opens the pipes a restored program will write to (out/err: read, write ends). */
int program_pipes_open(int out[2], int err[2], struct herr *e);
/* Reports the output of restored root, read from out_fd and err_fd (taken). */
void program_adopt(pid_t root, uint32_t id, int out_fd, int err_fd);
/* CRIU's ids of the output pipes of the program pid is (or descends from); -1: none. */
int program_pipe_ids(pid_t pid, uint32_t *out_id, uint32_t *err_id);
bool program_room(void);
/* The pipes to poll (at most max); program_poll_done reads the ready ones. */
size_t program_poll_fds(struct pollfd *pfd, size_t max);
void program_poll_done(const struct pollfd *pfd, size_t n);
/* A child was reaped: a program's end is reported. */
void program_reaped(pid_t pid, int status);
/* At exit: kills every running program's tree, without events. */
void program_kill_all(void);

/* ---- kill.c ------------------------------------------------------------- */

bool is_self_or_ancestor(pid_t pid);
/* Stops, SIGKILLs and waits out the tree of root; killed gets its pids, root first. */
int kill_tree(pid_t root, struct pidlist *killed, struct herr *e);

/* ---- ops.c -------------------------------------------------------------- */

struct helper_config {
	char store[4096];
	const char *criu_path;	/* NULL: not found */
	const char *criu_asked;	/* --criu's path, kept when it is not executable */
};

extern struct helper_config g_cfg;
extern struct criu_info g_criu;
void handle_request(const Request *req);
void reap_children(void);

#endif
