COMMENT
SonataReportSampler: samples the pointers of one report into a float32 frame buffer, in C++.

Why: the Python sampler (engine/managers/report_recorder.py) woke up once per frame and
read every pointer through NEURON 9 data_handles (two dependent loads per element, ~37 ns
on large models). This artificial cell keeps the data_handles, resolves them to raw
`double*` once per initialisation, and on each frame writes value (or a weighted sum of
values) as float32 into a ring buffer owned by a hoc Vector. With a file attached, a
writer thread of this mechanism moves blocks of rows from the ring into the report's
preallocated contiguous HDF5 data sets (pwrite at known offsets) while the model keeps
running on the main thread; the thread never touches NEURON or Python (no GIL), so the
cost of writing (mostly the kernel's page-cache work) moves to another core. Why: on
detailed cells that cost was ~5 % of the run (benchmarks/README.md, issue 6).

Usage (Python; the engine does all of this in ReportRecorder):
    s = h.SonataReportSampler()
    s.add(ref0, ref1, ...)                  # any number of pointers per call, in order
    s.terms(pointers, elements, weights, n) # optional: element e = sum of w * value(p)
    s.buffer(vec, rows)                     # vec: hoc Vector of >= rows * width / 2 doubles
    s.first_step, s.stride, s.sim_dt, s.n_frames = ...  # frame i at (first + i*stride)*dt
    nc = h.NetCon(None, s); nc.event(frame_time(0))      # after each finitialize
    n = s.take()   # rows filled since the last take (they start at row 0); resets to 0

Semantics:
  * frame i is taken by the event at (first_step + i * stride) * sim_dt, computed in double
    exactly as the Python path does, so events fall on the same steps; each frame fills the
    next row of the ring (frame k at row k % rows); without a file, frames that find the
    buffer full are dropped and counted (lost()); with one, the frame waits for the writer
    (waited() seconds), so memory stays at rows x width and no frame is lost unless a
    write failed.
  * plain reports: row[k] = (float) value(pointer k); with terms: row[e] = (float) of the
    double sum over terms j in order of weights[j] * value(pointers[j]) (np.bincount's
    order, so the same bits).
  * raw pointers: NEURON 9 may permute or reallocate its SoA storage whenever the model
    changes structurally; data_handles follow, raw pointers do not. They are resolved in
    INITIAL (the model is sorted then and stays frozen through the run), again whenever
    structure_change_cnt moved, and whenever one of the probe handles (first, last and 14
    spread between) no longer resolves to its cached pointer; resolve() (from Python)
    returns how many cached pointers were wrong. A handle to a deleted object reads NaN.

VERBATIM uses only what NEURON 9 ships in its include directory: hoc_hgetarg<double>,
neuron::container::data_handle, ifarg, vector_arg, vector_capacity, vector_vec,
vector_pobj, hoc_obj_ref/unref, hoc_execerror, structure_change_cnt (nrniv_mf.h); the
writer uses the C++ standard library threads and POSIX pwrite.

CoreNEURON: every VERBATIM body is NEURON-only (#ifndef CORENEURON_BUILD), so the
CoreNEURON build of this file is an inert artificial cell. The engine never creates a
sampler for a CoreNEURON run; those reports are recorded by engine/coreneuron (Vector.record).
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL SonataReportSampler
    BBCOREPOINTER ptr
    RANGE first_step, stride, sim_dt, n_frames
}

PARAMETER {
    first_step = 0
    stride = 1
    sim_dt = 0.025 (ms)
    n_frames = 0
}

ASSIGNED {
    ptr
}

VERBATIM
#ifndef CORENEURON_BUILD
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>
#include <sys/types.h>
#include <unistd.h>

namespace {
struct FilePiece {
    double offset;       // byte offset of frame 0 of this data set in the file
    std::size_t column;  // its first column in the ring's rows
    std::size_t width;   // its columns
};

struct BlockWriter {
    int fd = -1;
    std::vector<FilePiece> pieces;
    std::size_t chunk = 1;  // rows that wake the thread
    std::mutex mutex;       // guards stored/written of the sampler and everything here
    std::condition_variable wake;  // to the thread
    std::condition_variable done;  // to the sampler
    std::thread thread;
    bool flushing = false;
    bool stopping = false;
    int error = 0;
    double busy = 0;    // seconds the thread spent writing
    double waited = 0;  // seconds the main thread waited for it
    double blocks = 0;
    std::size_t most_rows = 0;  // largest block written
    std::vector<float> staging;  // rows of one data set when a row holds several
};

struct SonataSampler {
    std::vector<neuron::container::data_handle<double>> handles;
    std::vector<double*> raw;
    std::vector<int> term_pointer, term_element;
    std::vector<double> term_weight, sums;
    bool summed = false;
    std::size_t width = 0;  // elements per row
    IvocVect* vec = nullptr;  // owns the buffer memory
    float* rows = nullptr;
    std::size_t capacity = 0;  // rows
    std::size_t stored = 0;    // frames put in the ring (since INITIAL or the last take)
    std::size_t written = 0;   // of those, frames on disk (with a writer)
    BlockWriter* writer = nullptr;
    double frames = 0;         // frames taken since INITIAL
    double lost = 0;           // frames dropped because the buffer was full
    int structure_cnt = -1;
    std::vector<std::size_t> probes;
    double stats[5] = {0, 0, 0, 0, 0};  // writer_stat() of the last detached file
};

double not_a_number = std::numeric_limits<double>::quiet_NaN();

SonataSampler* sampler_of(void* p) {
    return static_cast<SonataSampler*>(p);
}

/* Raw pointers from the handles; returns how many differed from the cached ones. */
double sampler_resolve(SonataSampler* s) {
    std::size_t n = s->handles.size();
    s->raw.resize(n, nullptr);
    double changed = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double* p = static_cast<double*>(s->handles[i]);
        if (!p) {
            p = &not_a_number;
        }
        if (p != s->raw[i]) {
            changed += 1;
            s->raw[i] = p;
        }
    }
    s->structure_cnt = structure_change_cnt;
    s->probes.clear();
    if (n) {
        std::size_t k = n < 16 ? n : 16;
        for (std::size_t j = 0; j < k; ++j) {
            s->probes.push_back(k > 1 ? j * (n - 1) / (k - 1) : 0);
        }
    }
    return changed;
}

/* Cheap per-frame check that the cached pointers still are what the handles say. */
void sampler_guard(SonataSampler* s) {
    if (s->structure_cnt != structure_change_cnt) {
        sampler_resolve(s);
        return;
    }
    for (std::size_t i: s->probes) {
        double* p = static_cast<double*>(s->handles[i]);
        if ((p ? p : &not_a_number) != s->raw[i]) {
            sampler_resolve(s);
            return;
        }
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/* Whether the next frame has a free row; with a writer, waits for one. */
bool sampler_room(SonataSampler* s) {
    BlockWriter* w = s->writer;
    if (!w) {
        return s->stored - s->written < s->capacity;
    }
    std::unique_lock<std::mutex> lock(w->mutex);
    if (s->stored - s->written >= s->capacity && !w->error) {
        auto start = std::chrono::steady_clock::now();
        w->wake.notify_one();
        w->done.wait(lock, [&] { return s->stored - s->written < s->capacity || w->error; });
        w->waited += seconds_since(start);
    }
    return !w->error;
}

void sampler_stored(SonataSampler* s) {
    BlockWriter* w = s->writer;
    if (!w) {
        s->stored += 1;
        return;
    }
    std::lock_guard<std::mutex> lock(w->mutex);
    s->stored += 1;
    if (s->stored - s->written == w->chunk) {
        w->wake.notify_one();
    }
}

void sampler_frame(SonataSampler* s) {
    s->frames += 1;
    if (!s->rows || !sampler_room(s)) {
        s->lost += 1;
        return;
    }
    sampler_guard(s);
    float* out = s->rows + (s->stored % s->capacity) * s->width;
    double* const* raw = s->raw.data();
    if (!s->summed) {
        for (std::size_t k = 0; k < s->width; ++k) {
            out[k] = static_cast<float>(*raw[k]);
        }
    } else {
        double* sums = s->sums.data();
        for (std::size_t e = 0; e < s->width; ++e) {
            sums[e] = 0.0;
        }
        std::size_t n = s->term_weight.size();
        const int* pointer = s->term_pointer.data();
        const int* element = s->term_element.data();
        const double* weight = s->term_weight.data();
        for (std::size_t j = 0; j < n; ++j) {
            double term = weight[j] * *raw[pointer[j]];
            sums[element[j]] += term;
        }
        for (std::size_t e = 0; e < s->width; ++e) {
            out[e] = static_cast<float>(sums[e]);
        }
    }
    sampler_stored(s);
}

/* pwrite all of it; 0 or an errno. */
int write_fully(int fd, const char* data, std::size_t bytes, off_t offset) {
    while (bytes > 0) {
        ssize_t n = pwrite(fd, data, bytes, offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (n == 0) {
            return EIO;
        }
        data += n;
        bytes -= static_cast<std::size_t>(n);
        offset += n;
    }
    return 0;
}

/* Frames first .. first + n - 1, at ring rows ring .. ring + n - 1, into every data set. */
int write_rows(SonataSampler* s, BlockWriter* w, std::size_t first, std::size_t ring,
               std::size_t n) {
    for (const FilePiece& piece: w->pieces) {
        std::size_t row_bytes = piece.width * sizeof(float);
        off_t offset = static_cast<off_t>(piece.offset) + static_cast<off_t>(first * row_bytes);
        const float* rows = s->rows + ring * s->width;
        int error = 0;
        if (piece.width == s->width) {  // one data set: the rows are contiguous
            error = write_fully(w->fd, reinterpret_cast<const char*>(rows), n * row_bytes,
                                offset);
        } else {  // this data set's columns of each row, gathered a few MB at a time
            std::size_t per_copy = std::max<std::size_t>(1, (4u << 20) / std::max<std::size_t>(1, row_bytes));
            for (std::size_t done = 0; done < n && !error; done += per_copy) {
                std::size_t k = std::min(per_copy, n - done);
                w->staging.resize(k * piece.width);
                for (std::size_t r = 0; r < k; ++r) {
                    std::memcpy(w->staging.data() + r * piece.width,
                                rows + (done + r) * s->width + piece.column, row_bytes);
                }
                error = write_fully(w->fd, reinterpret_cast<const char*>(w->staging.data()),
                                    k * row_bytes, offset + static_cast<off_t>(done * row_bytes));
            }
        }
        if (error) {
            return error;
        }
    }
    return 0;
}

/* The writer thread: whenever chunk rows (or, flushing, any) wait, write them. */
void writer_loop(SonataSampler* s) {
    BlockWriter* w = s->writer;
    std::unique_lock<std::mutex> lock(w->mutex);
    for (;;) {
        w->wake.wait(lock, [&] {
            std::size_t pending = s->stored - s->written;
            return w->stopping ||
                   (!w->error && (pending >= w->chunk || (w->flushing && pending > 0)));
        });
        if (w->stopping) {
            break;
        }
        std::size_t first = s->written;
        std::size_t n = s->stored - first;
        std::size_t ring = first % s->capacity;
        n = std::min(n, s->capacity - ring);  // up to the end of the ring
        lock.unlock();
        auto start = std::chrono::steady_clock::now();
        int error = write_rows(s, w, first, ring, n);
        double took = seconds_since(start);
        lock.lock();
        w->busy += took;
        if (error) {
            w->error = error;
        } else {
            s->written += n;
            w->blocks += 1;
            w->most_rows = std::max(w->most_rows, n);
        }
        w->done.notify_all();
    }
}

/* Frames stored and not yet on disk (or taken); under the writer's lock if it runs. */
std::size_t sampler_pending(SonataSampler* s) {
    if (!s->writer) {
        return s->stored - s->written;
    }
    std::lock_guard<std::mutex> lock(s->writer->mutex);
    return s->stored - s->written;
}

/* The next frame goes to row 0 again (after a flush, or by take()). */
void sampler_restart_rows(SonataSampler* s) {
    if (!s->writer) {
        s->stored = s->written = 0;
        return;
    }
    std::lock_guard<std::mutex> lock(s->writer->mutex);
    s->stored = s->written = 0;
}

/* Wait until every stored frame is on disk (or a write failed). */
void writer_flush(SonataSampler* s) {
    BlockWriter* w = s->writer;
    if (!w) {
        return;
    }
    std::unique_lock<std::mutex> lock(w->mutex);
    if (s->stored == s->written || w->error) {
        return;
    }
    auto start = std::chrono::steady_clock::now();
    w->flushing = true;
    w->wake.notify_one();
    w->done.wait(lock, [&] { return s->stored == s->written || w->error; });
    w->flushing = false;
    w->waited += seconds_since(start);
}

/* Stop the thread (after a flush if asked) and forget the file; returns the errno. */
int writer_detach(SonataSampler* s, bool flush) {
    BlockWriter* w = s->writer;
    if (!w) {
        return 0;
    }
    if (flush) {
        writer_flush(s);
    }
    {
        std::lock_guard<std::mutex> lock(w->mutex);
        w->stopping = true;
    }
    w->wake.notify_one();
    if (w->thread.joinable()) {
        w->thread.join();
    }
    return w->error;
}

void sampler_release_buffer(SonataSampler* s) {
    if (s->vec) {
        hoc_obj_unref(*vector_pobj(s->vec));
    }
    s->vec = nullptr;
    s->rows = nullptr;
    s->capacity = 0;
    s->stored = 0;
    s->written = 0;
}
}  // namespace
#endif
ENDVERBATIM

CONSTRUCTOR {
VERBATIM
#ifndef CORENEURON_BUILD
    _p_ptr = new SonataSampler{};
#endif
ENDVERBATIM
}

DESTRUCTOR {
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        _p_ptr = nullptr;
        if (s) {
            writer_detach(s, false);
            delete s->writer;
            sampler_release_buffer(s);
            delete s;
        }
    }
#endif
ENDVERBATIM
}

INITIAL {
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s) {
            writer_flush(s);  /* frames of an earlier run go to disk first */
            sampler_restart_rows(s);
            s->frames = 0;
            s->lost = 0;
            sampler_resolve(s);
        }
    }
#endif
ENDVERBATIM
}

NET_RECEIVE (w) {
    LOCAL d
    d = -1
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        /* An event that is not this frame's (a restored checkpoint's queue holds the saving
           run's sampler events) is dropped: frames follow the clock, never a stale event. */
        if (s && s->frames < n_frames
            && fabs(t - (first_step + s->frames * stride) * sim_dt) < 0.5 * sim_dt) {
            sampler_frame(s);
            if (s->frames < n_frames) {
                /* Same double arithmetic as ReportSpec.frame_time, then nudge the delay so
                   that t + d is exactly that time (as SonataVecStim does). */
                double target = (first_step + s->frames * stride) * sim_dt;
                double dd = target - t;
                for (int k = 0; k < 16 && t + dd != target; ++k) {
                    dd = nextafter(dd, (t + dd < target) ? HUGE_VAL : -HUGE_VAL);
                }
                _ld = dd < 0.0 ? 0.0 : dd;
            }
        }
    }
#endif
ENDVERBATIM
    if (d >= 0) {
        net_send(d, 1)
    }
}

PROCEDURE add() {
    : Append the pointer arguments (any number) to the report's pointers, in order.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        for (int i = 1; ifarg(i); ++i) {
            s->handles.push_back(hoc_hgetarg<double>(i));
        }
        s->raw.clear();
        if (!s->summed) {
            s->width = s->handles.size();
        }
    }
#endif
ENDVERBATIM
}

PROCEDURE terms() {
    : terms(pointers, elements, weights, n_elements): element values are weighted sums.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        IvocVect* vp = vector_arg(1);
        IvocVect* ve = vector_arg(2);
        IvocVect* vw = vector_arg(3);
        int n = vector_capacity(vp);
        if (vector_capacity(ve) != n || vector_capacity(vw) != n) {
            hoc_execerror("SonataReportSampler.terms:", "vectors of different sizes");
        }
        std::size_t width = static_cast<std::size_t>(*hoc_getarg(4));
        double* p = vector_vec(vp);
        double* e = vector_vec(ve);
        double* w = vector_vec(vw);
        s->term_pointer.resize(n);
        s->term_element.resize(n);
        s->term_weight.resize(n);
        for (int j = 0; j < n; ++j) {
            if (p[j] < 0 || p[j] >= s->handles.size() || e[j] < 0 || e[j] >= width) {
                hoc_execerror("SonataReportSampler.terms:", "index out of range");
            }
            s->term_pointer[j] = static_cast<int>(p[j]);
            s->term_element[j] = static_cast<int>(e[j]);
            s->term_weight[j] = w[j];
        }
        s->summed = true;
        s->width = width;
        s->sums.assign(width, 0.0);
    }
#endif
ENDVERBATIM
}

PROCEDURE buffer() {
    : buffer(vec, rows): rows x width float32 values in the memory of hoc Vector vec.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s->writer) {
            hoc_execerror("SonataReportSampler.buffer:", "detach the file first");
        }
        IvocVect* vec = vector_arg(1);
        std::size_t rows = static_cast<std::size_t>(*hoc_getarg(2));
        std::size_t doubles = static_cast<std::size_t>(vector_capacity(vec));
        if (2 * doubles < rows * s->width) {
            hoc_execerror("SonataReportSampler.buffer:", "the Vector is too small");
        }
        hoc_obj_ref(*vector_pobj(vec));
        sampler_release_buffer(s);
        s->vec = vec;
        s->rows = reinterpret_cast<float*>(vector_vec(vec));
        s->capacity = rows;
    }
#endif
ENDVERBATIM
}

FUNCTION take() {
    : Rows filled since the last take (rows 0 .. n-1 of the buffer); the next frame goes
    : to row 0 again. Only without a file.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s->writer) {
            hoc_execerror("SonataReportSampler.take:", "a file is attached");
        }
        _ltake = static_cast<double>(s->stored - s->written);
        sampler_restart_rows(s);
    }
#endif
ENDVERBATIM
}

FUNCTION filled() {
    : Frames in the ring not yet on disk (or not yet taken).
VERBATIM
#ifndef CORENEURON_BUILD
    _lfilled = static_cast<double>(sampler_pending(sampler_of(_p_ptr)));
#endif
ENDVERBATIM
}

PROCEDURE attach() {
    : attach(fd, plan, chunk): write the ring's rows to file descriptor fd from now on,
    : data set j at byte plan[3j] + frame * plan[3j+2] * 4, columns plan[3j+1] ..
    : plan[3j+1] + plan[3j+2] - 1 of each row; the thread writes once chunk rows wait.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s->writer) {
            hoc_execerror("SonataReportSampler.attach:", "a file is attached already");
        }
        if (!s->rows || s->stored != s->written) {
            hoc_execerror("SonataReportSampler.attach:", "needs an empty buffer()");
        }
        IvocVect* vplan = vector_arg(2);
        int n = vector_capacity(vplan);
        double* plan = vector_vec(vplan);
        if (n % 3) {
            hoc_execerror("SonataReportSampler.attach:", "the plan is not triplets");
        }
        BlockWriter* w = new BlockWriter{};
        w->fd = static_cast<int>(*hoc_getarg(1));
        std::size_t columns = 0;
        for (int j = 0; j < n; j += 3) {
            FilePiece piece{plan[j], static_cast<std::size_t>(plan[j + 1]),
                            static_cast<std::size_t>(plan[j + 2])};
            if (plan[j] < 0 || piece.column + piece.width > s->width) {
                delete w;
                hoc_execerror("SonataReportSampler.attach:", "a data set outside the rows");
            }
            columns += piece.width;
            w->pieces.push_back(piece);
        }
        if (columns != s->width) {
            delete w;
            hoc_execerror("SonataReportSampler.attach:", "the data sets do not cover the rows");
        }
        double chunk = *hoc_getarg(3);
        w->chunk = chunk < 1 ? 1 : static_cast<std::size_t>(chunk);
        w->chunk = std::min(w->chunk, s->capacity);
        s->writer = w;
        w->thread = std::thread(writer_loop, s);
    }
#endif
ENDVERBATIM
}

PROCEDURE flush() {
    : Wait until every stored frame is on disk.
VERBATIM
#ifndef CORENEURON_BUILD
    writer_flush(sampler_of(_p_ptr));
#endif
ENDVERBATIM
}

FUNCTION detach() {
    : Flush, stop the writer thread, forget the file (the caller closes it); the errno of
    : a failed write, 0 if none. The counters below stay readable until the next attach.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        _ldetach = static_cast<double>(writer_detach(s, true));
        if (s->writer) {
            BlockWriter* w = s->writer;
            s->stats[0] = w->busy;
            s->stats[1] = w->waited;
            s->stats[2] = w->blocks;
            s->stats[3] = static_cast<double>(w->most_rows);
            s->stats[4] = static_cast<double>(w->error);
            s->stored = 0;
            s->written = 0;
            delete w;
            s->writer = nullptr;
        }
    }
#endif
ENDVERBATIM
}

FUNCTION writer_stat() {
    : writer_stat(k): of the current or last file, k = 0 seconds the thread wrote, 1 seconds
    : the run waited for it, 2 blocks written, 3 rows of the largest block, 4 errno.
VERBATIM
#ifndef CORENEURON_BUILD
    {
        SonataSampler* s = sampler_of(_p_ptr);
        int k = static_cast<int>(*hoc_getarg(1));
        if (k < 0 || k > 4) {
            hoc_execerror("SonataReportSampler.writer_stat:", "k is 0 .. 4");
        }
        if (s->writer) {
            BlockWriter* w = s->writer;
            std::lock_guard<std::mutex> lock(w->mutex);
            double now[5] = {w->busy, w->waited, w->blocks, static_cast<double>(w->most_rows),
                             static_cast<double>(w->error)};
            _lwriter_stat = now[k];
        } else {
            _lwriter_stat = s->stats[k];
        }
    }
#endif
ENDVERBATIM
}

FUNCTION frames() {
VERBATIM
#ifndef CORENEURON_BUILD
    _lframes = sampler_of(_p_ptr)->frames;
#endif
ENDVERBATIM
}

FUNCTION lost() {
VERBATIM
#ifndef CORENEURON_BUILD
    _llost = sampler_of(_p_ptr)->lost;
#endif
ENDVERBATIM
}

FUNCTION width() {
VERBATIM
#ifndef CORENEURON_BUILD
    _lwidth = static_cast<double>(sampler_of(_p_ptr)->width);
#endif
ENDVERBATIM
}

FUNCTION resolve() {
    : Re-resolve the raw pointers now; returns how many of the cached ones were wrong.
VERBATIM
#ifndef CORENEURON_BUILD
    _lresolve = sampler_resolve(sampler_of(_p_ptr));
#endif
ENDVERBATIM
}

VERBATIM
/* CoreNEURON transfer is not supported for reports: nothing to write or read. */
static void bbcore_write(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
}
static void bbcore_read(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
}
ENDVERBATIM
