/* gdbsock: a debugger inside the machine, speaking the GDB remote protocol
 * over an AF_GDB socket instead of using ptrace.
 *
 *   gdbsock [PROGRAM [ARGS...]]        (default: /bin/hello)
 *   gdbsock -p PID                     connect to a running process, say what
 *                                      it answered, detach
 *
 * It forks a child that waits for a go-ahead on a pipe, connects to it with
 * socket(AF_GDB, SOCK_STREAM, pid) (which stops it), asks to be told of its
 * exec (qSupported: exec-events+), lets it go and continues it; the child
 * execs PROGRAM and stops there (T05exec:...).  gdbsock then single-steps
 * the first three instructions of the new program and counts its system
 * calls (QCatchSyscalls) until it exits, printing what it saw.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../machine/kernel/include/afgdb.h"

static int fd = -1;
static char rbuf[4096];
static size_t rlen, rpos;
static char reply[16384];

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            perror("gdbsock: write");
            exit(1);
        }
        p += k;
        n -= (size_t)k;
    }
}

static int next_byte(void)
{
    if (rpos == rlen) {
        ssize_t n = read(fd, rbuf, sizeof rbuf);
        if (n <= 0)
            return -1;
        rlen = (size_t)n;
        rpos = 0;
    }
    return (unsigned char)rbuf[rpos++];
}

/* Send one packet, return the payload of the next packet (acks skipped). */
static const char *request(const char *payload)
{
    char frame[1024];
    unsigned sum = 0;
    for (const char *p = payload; *p; p++)
        sum += (unsigned char)*p;
    int n = snprintf(frame, sizeof frame, "$%s#%02x", payload, sum & 0xff);
    write_all(frame, (size_t)n);
    int c;
    while ((c = next_byte()) != '$')
        if (c < 0) {
            fprintf(stderr, "gdbsock: the connection closed\n");
            exit(1);
        }
    size_t len = 0;
    while ((c = next_byte()) != '#') {
        if (c < 0)
            exit(1);
        if (len < sizeof reply - 1)
            reply[len++] = (char)c;
    }
    next_byte();
    next_byte();
    reply[len] = 0;
    write_all("+", 1);
    return reply;
}

/* The value of "key:value;" in a stop reply, copied into out ("" if absent). */
static const char *field(const char *r, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    out[0] = 0;
    for (const char *p = r + 3; *p; ) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == ':') {
            size_t n = (size_t)(end - p) - klen - 1;
            if (n >= size)
                n = size - 1;
            memcpy(out, p + klen + 1, n);
            out[n] = 0;
            return out;
        }
        p = *end ? end + 1 : end;
    }
    return out;
}

static unsigned long le32(const char *hex)
{
    unsigned long v = 0;
    for (int i = 3; i >= 0; i--) {
        unsigned b;
        sscanf(hex + 2 * i, "%2x", &b);
        v = (v << 8) | b;
    }
    return v;
}

static void unhex(const char *hex, char *out, size_t size)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < size - 1) {
        unsigned b;
        sscanf(hex, "%2x", &b);
        out[n++] = (char)b;
        hex += 2;
    }
    out[n] = 0;
}

static int peek(pid_t pid)
{
    fd = socket(AF_GDB, SOCK_STREAM, pid);
    if (fd < 0) {
        printf("gdbsock: socket(AF_GDB, SOCK_STREAM, %d): %s\n", pid, strerror(errno));
        return 1;
    }
    const char *r = request("qSupported:multiprocess+");
    r = request("?");
    printf("gdbsock: attached to pid %d (%.3s)\n", pid, r);
    r = request("D");
    printf("gdbsock: detached (%s)\n", r);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "-p") == 0)
        return peek(atoi(argv[2]));
    char *dflt[] = { "/bin/hello", NULL };
    char **args = argc > 1 ? argv + 1 : dflt;
    char buf[512], pkt[64];
    int go[2];

    if (pipe(go) < 0) {
        perror("gdbsock: pipe");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(126);
        execv(args[0], args);
        _exit(127);
    }
    close(go[0]);

    fd = socket(AF_GDB, SOCK_STREAM, pid);
    if (fd < 0) {
        printf("gdbsock: socket(AF_GDB, SOCK_STREAM, %d): %s\n", pid, strerror(errno));
        return 1;
    }
    printf("gdbsock: connected to pid %d\n", pid);
    const char *r = request("qSupported:multiprocess+;exec-events+");
    printf("gdbsock: exec events %s\n", strstr(r, "exec-events+") ? "supported" : "missing");
    r = request("?");
    printf("gdbsock: child stopped (%.3s)\n", r);

    if (write(go[1], "x", 1) != 1)
        return 1;
    r = request("vCont;c");
    field(r, "exec", buf, sizeof buf);
    char path[256];
    unhex(buf, path, sizeof path);
    printf("gdbsock: exec %s, stopped at pc %#lx\n", path,
           le32(field(r, "25", buf, sizeof buf)));

    snprintf(pkt, sizeof pkt, "vCont;s:p%x.%x", pid, pid);
    for (int i = 1; i <= 3; i++) {
        r = request(pkt);
        printf("gdbsock: step %d: pc %#lx\n", i, le32(field(r, "25", buf, sizeof buf)));
    }

    r = request("QCatchSyscalls:1");
    if (strcmp(r, "OK") != 0) {
        printf("gdbsock: QCatchSyscalls refused: %s\n", r);
        return 1;
    }
    int calls = 0;
    for (;;) {
        r = request("vCont;c");
        if (r[0] == 'W' || r[0] == 'X') {
            printf("gdbsock: %d system calls, then %s %lu\n", calls,
                   r[0] == 'W' ? "exit status" : "killed by signal", strtoul(r + 1, NULL, 16));
            break;
        }
        if (*field(r, "syscall_entry", buf, sizeof buf)) {
            calls++;
            printf("gdbsock: syscall %lu\n", strtoul(buf, NULL, 16));
        }
    }
    close(fd);
    int st;
    waitpid(pid, &st, 0);
    printf("gdbsock: child %d reaped, status %d\n", pid, WEXITSTATUS(st));
    return 0;
}
