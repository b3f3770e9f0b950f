COMMENT
SonataCrashGuard: one line naming what the rank was doing when compiled code crashes.

Why: a segmentation fault (or bus error, floating-point trap, abort) inside a mechanism or
a template kills the process before Python can say anything; the user saw a bare exit
code 139, or on N ranks mpiexec's "BAD TERMINATION" banner, and no cell. The engine keeps
a short note of what this rank is doing ("building cell cortex node 3 (template X)",
"simulating t = 25..50 ms") in the C buffer below, written through ctypes before each
step (engine/failure.py). The signal handler writes "sonatasim: <note>: <signal>" with
write(2) (async-signal-safe), restores the default action and re-raises the signal, so
the exit status stays "killed by SIGSEGV" and mpiexec stops the other ranks.

SIGTERM (Slurm's time limit, mpiexec forwarding Ctrl-C) and SIGINT get a second handler:
it deletes this process' half-written outputs (`*.tmp-<pid>` in the directories listed in
sonatasim_temp_dirs), says so (unless sonatasim_quiet_interrupt: ranks other than 0, which
receive the same signal), and re-raises. It runs at once, even in the middle of a long
psolve, where a Python handler would wait for the call to return.

No NEURON API is used: the symbols are plain C, reached from Python with ctypes.
ENDCOMMENT

NEURON {
    SUFFIX SonataCrashGuard
}

VERBATIM
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

extern "C" {
/* "sonatasim: [rank N] error: <what the rank is doing>" written by Python, NUL-terminated */
char sonatasim_crash_note[2048];
int sonatasim_crash_fd = 2;

static void sonatasim_write_all(const char* text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t done = write(sonatasim_crash_fd, text, left);
        if (done <= 0) {
            return;
        }
        text += done;
        left -= (size_t) done;
    }
}

static void sonatasim_crash_handler(int sig) {
    const char* what = "a fatal signal";
    switch (sig) {
    case SIGSEGV: what = "segmentation fault (SIGSEGV) in compiled code"; break;
    case SIGBUS: what = "bus error (SIGBUS) in compiled code"; break;
    case SIGFPE: what = "floating-point exception (SIGFPE) in compiled code"; break;
    case SIGILL: what = "illegal instruction (SIGILL) in compiled code"; break;
    case SIGABRT: what = "aborted (SIGABRT) in compiled code"; break;
    }
    sonatasim_write_all(sonatasim_crash_note[0] ? sonatasim_crash_note : "sonatasim: error");
    sonatasim_write_all(": ");
    sonatasim_write_all(what);
    sonatasim_write_all("\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

/* directories holding this process' temporaries: NUL-separated, ended by an empty one */
char sonatasim_temp_dirs[8192];
int sonatasim_quiet_interrupt = 0;

static size_t sonatasim_decimal(char* out, long value) {
    char digits[24];
    size_t n = 0, i;
    do {
        digits[n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value > 0 && n < sizeof(digits));
    for (i = 0; i < n; ++i) {
        out[i] = digits[n - 1 - i];
    }
    out[n] = 0;
    return n;
}

static void sonatasim_remove_temporaries(void) {
    char suffix[40] = ".tmp-";
    size_t suffix_len = 5 + sonatasim_decimal(suffix + 5, (long) getpid());
    const char* dir = sonatasim_temp_dirs;
    while (*dir) {
        DIR* handle = opendir(dir);
        if (handle) {
            struct dirent* entry;
            while ((entry = readdir(handle)) != NULL) {
                size_t len = strlen(entry->d_name);
                if (len > suffix_len &&
                    strcmp(entry->d_name + len - suffix_len, suffix) == 0) {
                    char path[4096];
                    size_t dir_len = strlen(dir);
                    if (dir_len + 1 + len < sizeof(path)) {
                        memcpy(path, dir, dir_len);
                        path[dir_len] = '/';
                        memcpy(path + dir_len + 1, entry->d_name, len + 1);
                        unlink(path);
                    }
                }
            }
            closedir(handle);
        }
        dir += strlen(dir) + 1;
    }
}

static void sonatasim_interrupt_handler(int sig) {
    sonatasim_remove_temporaries();
    if (!sonatasim_quiet_interrupt) {
        sonatasim_write_all(sonatasim_crash_note[0] ? sonatasim_crash_note : "sonatasim: error");
        sonatasim_write_all(sig == SIGTERM ? ": interrupted by SIGTERM" : ": interrupted (SIGINT)");
        sonatasim_write_all("; half-written outputs removed\n");
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Handlers for SIGTERM and SIGINT: remove temporaries, say so, re-raise. */
int sonatasim_interrupt_guard_install(void) {
    int signals[] = {SIGTERM, SIGINT};
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = sonatasim_interrupt_handler;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    int failures = 0;
    for (unsigned i = 0; i < sizeof(signals) / sizeof(signals[0]); ++i) {
        if (sigaction(signals[i], &action, NULL) != 0) {
            ++failures;
        }
    }
    return failures;
}

/* Install the handler for the fatal signals; fd is where the line goes (stderr). */
int sonatasim_crash_guard_install(int fd) {
    int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = sonatasim_crash_handler;
    action.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sonatasim_crash_fd = fd;
    int failures = 0;
    for (unsigned i = 0; i < sizeof(signals) / sizeof(signals[0]); ++i) {
        if (sigaction(signals[i], &action, NULL) != 0) {
            ++failures;
        }
    }
    return failures;
}
}
ENDVERBATIM
