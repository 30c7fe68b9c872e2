/**
 * Bits of vma_entry.status (CRIU's VMA_* flags), as pycriu's pb2dict.py of
 * CRIU 4.1.1 lists them.
 */
export const VMA_STATUS = Object.freeze({
	AREA_REGULAR: 1 << 0,
	AREA_STACK: 1 << 1,
	AREA_VSYSCALL: 1 << 2,
	AREA_VDSO: 1 << 3,
	AREA_HEAP: 1 << 5,
	FILE_PRIVATE: 1 << 6,
	FILE_SHARED: 1 << 7,
	ANON_SHARED: 1 << 8,
	ANON_PRIVATE: 1 << 9,
	AREA_SYSVIPC: 1 << 10,
	AREA_SOCKET: 1 << 11,
	AREA_VVAR: 1 << 12,
	AREA_AIORING: 1 << 13,
	AREA_MEMFD: 1 << 14,
	AREA_SHSTK: 1 << 15,
	UNSUPP: 2 ** 31,
});
