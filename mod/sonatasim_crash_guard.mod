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

No NEURON API is used: the two symbols are plain C, reached from Python with ctypes.
ENDCOMMENT

NEURON {
    SUFFIX SonataCrashGuard
}

VERBATIM
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
