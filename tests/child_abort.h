/* child_abort.h: run a function in a child process that is expected to stop the program
 * (the CUDA emulator's checks abort with a message on stderr), for tests/test_cuda_semantics.c
 * and tests/test_cudaemu_racecheck.c. */
#ifndef COMPACTER_TESTS_CHILD_ABORT_H
#define COMPACTER_TESTS_CHILD_ABORT_H

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run fn(arg) in a child with its stderr into buf (cap bytes, NUL-terminated) and no core file;
 * the child exits 0 if fn returns 0, 3 otherwise. Returns 1 when the child died of SIGABRT, 0
 * when it did not (*how then says how it ended), -1 when pipe or fork failed. */
static int run_expecting_abort(int (*fn)(void *), void *arg, char *buf, size_t cap, char *how, size_t how_cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        close(fd[0]);
        dup2(fd[1], 2);
        _exit(fn(arg) == 0 ? 0 : 3);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t got;
    while (len + 1 < cap && (got = read(fd[0], buf + len, cap - 1 - len)) > 0) len += (size_t)got;
    buf[len] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    snprintf(how, how_cap, "the child %s %d", WIFSIGNALED(status) ? "died of signal" : "exited with",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return aborted;
}

#endif
