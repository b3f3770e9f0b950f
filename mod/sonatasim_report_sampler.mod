COMMENT
SonataReportSampler: samples the pointers of one report into a float32 frame buffer, in C++.

Why: the Python sampler (engine/managers/report_recorder.py) woke up once per frame and
read every pointer through NEURON 9 data_handles (two dependent loads per element, ~37 ns
on large models). This artificial cell keeps the data_handles, resolves them to raw
`double*` once per initialisation, and on each frame writes value (or a weighted sum of
values) as float32 into a buffer owned by a hoc Vector that Python views with numpy.
Python only wakes up to move full blocks to disk.

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
    next row; when the buffer is full, frames are dropped and counted (lost()).
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
vector_pobj, hoc_obj_ref/unref, hoc_execerror, structure_change_cnt (nrniv_mf.h).
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
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace {
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
    std::size_t filled = 0;    // rows since the last take()
    double frames = 0;         // frames taken since INITIAL
    double lost = 0;           // frames dropped because the buffer was full
    int structure_cnt = -1;
    std::vector<std::size_t> probes;
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

void sampler_frame(SonataSampler* s) {
    s->frames += 1;
    if (s->filled >= s->capacity || !s->rows) {
        s->lost += 1;
        return;
    }
    sampler_guard(s);
    float* out = s->rows + s->filled * s->width;
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
    s->filled += 1;
}

void sampler_release_buffer(SonataSampler* s) {
    if (s->vec) {
        hoc_obj_unref(*vector_pobj(s->vec));
    }
    s->vec = nullptr;
    s->rows = nullptr;
    s->capacity = 0;
    s->filled = 0;
}
}  // namespace
ENDVERBATIM

CONSTRUCTOR {
VERBATIM
    _p_ptr = new SonataSampler{};
ENDVERBATIM
}

DESTRUCTOR {
VERBATIM
    {
        SonataSampler* s = sampler_of(_p_ptr);
        _p_ptr = nullptr;
        if (s) {
            sampler_release_buffer(s);
            delete s;
        }
    }
ENDVERBATIM
}

INITIAL {
VERBATIM
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s) {
            s->frames = 0;
            s->lost = 0;
            s->filled = 0;
            sampler_resolve(s);
        }
    }
ENDVERBATIM
}

NET_RECEIVE (w) {
    LOCAL d
    d = -1
VERBATIM
    {
        SonataSampler* s = sampler_of(_p_ptr);
        if (s) {
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
ENDVERBATIM
    if (d >= 0) {
        net_send(d, 1)
    }
}

PROCEDURE add() {
    : Append the pointer arguments (any number) to the report's pointers, in order.
VERBATIM
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
ENDVERBATIM
}

PROCEDURE terms() {
    : terms(pointers, elements, weights, n_elements): element values are weighted sums.
VERBATIM
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
ENDVERBATIM
}

PROCEDURE buffer() {
    : buffer(vec, rows): rows x width float32 values in the memory of hoc Vector vec.
VERBATIM
    {
        SonataSampler* s = sampler_of(_p_ptr);
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
ENDVERBATIM
}

FUNCTION take() {
    : Rows filled since the last take (rows 0 .. n-1 of the buffer); the next frame goes
    : to row 0 again.
VERBATIM
    {
        SonataSampler* s = sampler_of(_p_ptr);
        _ltake = static_cast<double>(s->filled);
        s->filled = 0;
    }
ENDVERBATIM
}

FUNCTION filled() {
VERBATIM
    _lfilled = static_cast<double>(sampler_of(_p_ptr)->filled);
ENDVERBATIM
}

FUNCTION frames() {
VERBATIM
    _lframes = sampler_of(_p_ptr)->frames;
ENDVERBATIM
}

FUNCTION lost() {
VERBATIM
    _llost = sampler_of(_p_ptr)->lost;
ENDVERBATIM
}

FUNCTION width() {
VERBATIM
    _lwidth = static_cast<double>(sampler_of(_p_ptr)->width);
ENDVERBATIM
}

FUNCTION resolve() {
    : Re-resolve the raw pointers now; returns how many of the cached ones were wrong.
VERBATIM
    _lresolve = sampler_resolve(sampler_of(_p_ptr));
ENDVERBATIM
}

VERBATIM
/* CoreNEURON transfer is not supported for reports: nothing to write or read. */
static void bbcore_write(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
}
static void bbcore_read(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
}
ENDVERBATIM
