//go:build linux && cgo

package startup

/*
// The hand-over runs as an ELF constructor: the dynamic loader calls it
// before the Go runtime starts. A Go init function would run too late: for
// the 50 MB server binary, the runtime's own start-up before the first init
// (the interface table, the heap, the threads, the page faults of a large
// binary) measured 20 ms of CPU, as much as the whole check in the
// verifier, so a hand-over from Go saved nothing (see the package doc).

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// cunzheng_verifier_id is the verifier's Go build ID this binary was built
// with, or "" (a plain go build or go install): no hand-over. The Makefile
// adds verifier_id.h to this package with go build -overlay, defining
// CUNZHENG_VERIFIER_ID; not in CGO_CFLAGS, which every cgo package of the
// build hashes, so that each new ID would recompile them all.
#if defined(__has_include)
#if __has_include("verifier_id.h")
#include "verifier_id.h"
#endif
#endif
#ifdef CUNZHENG_VERIFIER_ID
static const char cunzheng_verifier_id[] = CUNZHENG_VERIFIER_ID;
#else
static const char cunzheng_verifier_id[] = "";
#endif

static const char *cunzheng_expected_id(void) { return cunzheng_verifier_id; }

// cunzheng_u reads an unsigned integer of n bytes at off in h (len bytes),
// in the byte order big says; it returns 0 and sets *ok to 0 when the
// integer lies outside h.
static unsigned long long cunzheng_u(const unsigned char *h, size_t len, unsigned long long off, int n, int big, int *ok) {
	if (off > len || len - off < (unsigned long long)n) {
		*ok = 0;
		return 0;
	}
	unsigned long long v = 0;
	for (int i = 0; i < n; i++) {
		unsigned long long b = h[off + i];
		if (big) {
			v = v << 8 | b;
		} else {
			v |= b << (8 * i);
		}
	}
	return v;
}

// cunzheng_elf_go_build_id finds the Go build ID note (what `go tool
// buildid` prints) in h, the first len bytes of an ELF file: the program
// headers and the note must lie within them, as they do in the first 4 KiB
// of every binary Go links. It sets *id and *idlen and returns 1, or
// returns 0 for anything else (not ELF, truncated, no Go note). It never
// reads outside h.
static int cunzheng_elf_go_build_id(const unsigned char *h, size_t len, const unsigned char **id, size_t *idlen) {
	enum { ptNote = 4, goBuildIDTag = 4 };
	if (len < 64 || memcmp(h, "\177ELF", 4) != 0) {
		return 0;
	}
	int big;
	switch (h[5]) { // EI_DATA
	case 1: big = 0; break;
	case 2: big = 1; break;
	default: return 0;
	}
	// Offsets of e_phoff, e_phentsize, e_phnum and of p_offset, p_filesz
	// in a program header, per class (EI_CLASS).
	unsigned long long phoffAt, phentAt, phnumAt, offAt, fileszAt;
	int word;
	switch (h[4]) {
	case 1: phoffAt = 28; phentAt = 42; phnumAt = 44; offAt = 4; fileszAt = 16; word = 4; break;
	case 2: phoffAt = 32; phentAt = 54; phnumAt = 56; offAt = 8; fileszAt = 32; word = 8; break;
	default: return 0;
	}
	int ok = 1;
	unsigned long long phoff = cunzheng_u(h, len, phoffAt, word, big, &ok);
	unsigned long long phent = cunzheng_u(h, len, phentAt, 2, big, &ok);
	unsigned long long phnum = cunzheng_u(h, len, phnumAt, 2, big, &ok);
	if (!ok || phoff > len) {
		return 0;
	}
	for (unsigned long long i = 0; i < phnum; i++) {
		unsigned long long ph = phoff + i * phent; // phent < 2^16, i < 2^16, phoff <= len: no overflow
		unsigned long long typ = cunzheng_u(h, len, ph, 4, big, &ok);
		if (!ok) {
			return 0;
		}
		if (typ != ptNote) {
			continue;
		}
		unsigned long long off = cunzheng_u(h, len, ph + offAt, word, big, &ok);
		unsigned long long size = cunzheng_u(h, len, ph + fileszAt, word, big, &ok);
		if (!ok || off > len || size > len - off) {
			return 0;
		}
		// The segment's notes: namesz, descsz, type, then the name and the
		// descriptor, each padded to 4 bytes.
		unsigned long long end = off + size;
		while (end - off >= 12) {
			unsigned long long namesz = cunzheng_u(h, len, off, 4, big, &ok);
			unsigned long long descsz = cunzheng_u(h, len, off + 4, 4, big, &ok);
			unsigned long long tag = cunzheng_u(h, len, off + 8, 4, big, &ok);
			unsigned long long name = off + 12;
			if (!ok || namesz > end || descsz > end) {
				break;
			}
			unsigned long long desc = name + ((namesz + 3) & ~3ULL);
			unsigned long long next = desc + ((descsz + 3) & ~3ULL);
			if (next > end) {
				break;
			}
			if (tag == goBuildIDTag && namesz == 4 && memcmp(h + name, "Go\0\0", 4) == 0) {
				*id = h + desc;
				*idlen = descsz;
				return 1;
			}
			off = next;
		}
	}
	return 0;
}

// cunzheng_open_verifier opens the verifier beside the executable and
// returns its file descriptor when its Go build ID is want, writing its
// path to path (size bytes); -1 otherwise.
static int cunzheng_open_verifier(const char *want, char *path, size_t size) {
	static const char name[] = "cunzheng-verify";
	if (want[0] == 0) {
		return -1;
	}
	ssize_t n = readlink("/proc/self/exe", path, size);
	if (n <= 0 || (size_t)n >= size) {
		return -1;
	}
	path[n] = 0;
	char *slash = strrchr(path, '/');
	if (slash == NULL || (size_t)(slash + 1 - path) + sizeof name > size) {
		return -1;
	}
	memcpy(slash + 1, name, sizeof name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	unsigned char head[4096];
	ssize_t got = pread(fd, head, sizeof head, 0);
	const unsigned char *id;
	size_t idlen;
	if (got <= 0 || !cunzheng_elf_go_build_id(head, (size_t)got, &id, &idlen) ||
			idlen != strlen(want) || memcmp(id, want, idlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

#ifdef __GLIBC__
// glibc passes a constructor the program's arguments and environment.
// (Elsewhere, musl for one, it does not, and verify stays in-process.)
__attribute__((constructor))
static void cunzheng_hand_over(int argc, char **argv, char **envp) {
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		return;
	}
	const char *inproc = getenv("CUNZHENG_VERIFY_INPROCESS");
	if (inproc != NULL && inproc[0] != 0 && strcmp(inproc, "0") != 0) {
		return;
	}
	char path[PATH_MAX];
	int fd = cunzheng_open_verifier(cunzheng_verifier_id, path, sizeof path);
	if (fd < 0) {
		return;
	}
	// Exec the very file whose build ID was read, not whatever the path
	// names by now. argv[0] stays as the user typed it; the verifier tells
	// `cunzheng verify …` (argv[1] == "verify") from its own name.
	fexecve(fd, argv, envp);
	// It returned: the exec failed (a noexec mount, no /proc); verify in
	// this process instead.
	close(fd);
}
#endif
*/
import "C"

import "unsafe"

// Verifier returns the path of the verifier binary `cunzheng verify` hands
// over to, and whether it does (InProcessEnv aside): whether this binary was
// built with a verifier's build ID and the file beside it has that ID.
func Verifier() (string, bool) {
	var path [4096]C.char
	fd := C.cunzheng_open_verifier(C.cunzheng_expected_id(), &path[0], C.size_t(len(path)))
	if fd < 0 {
		return "", false
	}
	C.close(fd)
	return C.GoString(&path[0]), true
}

// elfGoBuildID is the C parser of the Go build ID note, for tests.
func elfGoBuildID(head []byte) (string, bool) {
	if len(head) == 0 {
		return "", false
	}
	// A copy in C memory of exactly len(head) bytes.
	p := C.CBytes(head)
	defer C.free(p)
	var id *C.uchar
	var n C.size_t
	if C.cunzheng_elf_go_build_id((*C.uchar)(p), C.size_t(len(head)), &id, &n) == 0 {
		return "", false
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(id)), C.int(n)), true
}
