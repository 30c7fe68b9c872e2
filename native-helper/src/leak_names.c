/* SPDX-License-Identifier: MIT */
/* The names of leak kinds and policies, as the client and manifest.json spell them. */
#include "leak_names.h"
#include "wire.h"

static const char *const kind_names[LEAK_KIND_MAX + 1] = {
	[LK(UTS_NS)] = "uts-ns", [LK(IPC_NS)] = "ipc-ns", [LK(NET_NS)] = "net-ns",
	[LK(MNT_NS)] = "mnt-ns", [LK(PID_NS)] = "pid-ns", [LK(USER_NS)] = "user-ns",
	[LK(CGROUP_NS)] = "cgroup-ns", [LK(TIME_NS)] = "time-ns", [LK(PIPE)] = "pipe",
	[LK(FIFO)] = "fifo", [LK(UNIX_SOCKET)] = "unix-socket", [LK(TCP)] = "tcp", [LK(UDP)] = "udp",
	[LK(TTY)] = "tty", [LK(SYSV_SHM)] = "sysv-shm", [LK(SYSV_SEM)] = "sysv-sem",
	[LK(SYSV_MSG)] = "sysv-msg", [LK(SHARED_MEMORY)] = "shared-memory",
	[LK(FILE_LOCK)] = "file-lock", [LK(SHARED_TASK)] = "shared-task", [LK(PARENT)] = "parent",
	[LK(SESSION)] = "session", [LK(PROCESS_GROUP)] = "process-group", [LK(TRACER)] = "tracer",
	[LK(MEMFD)] = "memfd", [LK(DELETED_FILE)] = "deleted-file",
	[LK(VOLATILE_FILE)] = "volatile-file",
};

static const char *const policy_names[LEAK_POLICY_MAX + 1] = {
	[LP(FAIL)] = "fail", [LP(WARN)] = "warn", [LP(IGNORE)] = "ignore",
	[LP(EXTERNAL)] = "external", [LP(SAVE)] = "save",
};

const char *leak_kind_name(int kind)
{
	return kind > 0 && kind <= LEAK_KIND_MAX && kind_names[kind] ? kind_names[kind] : "unknown";
}

const char *leak_policy_name(int policy)
{
	return policy > 0 && policy <= LEAK_POLICY_MAX ? policy_names[policy] : "unknown";
}
