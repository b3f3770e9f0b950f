COMMENT
SonataVecStim: an artificial cell that fires at the times held in a hoc Vector.

Why our own: input spike trains (SONATA "spikes" inputs, virtual nodes) need a spike
source that circuits' own mechanisms cannot clash with.

Usage (Python):
    vs = h.SonataVecStim()
    vs.play(times)              # times in ms, ascending; the Vector is kept alive
    nc = h.NetCon(vs, target)   # or pc.cell(gid, h.NetCon(vs, None))
    vs.play()                   # no argument: forget the vector, fire nothing

Semantics:
  * INITIAL (every finitialize) restarts from the first element.
  * Elements earlier than the time at initialisation (normally t = 0) are skipped,
    as is any element earlier than the previous one (the input must be ascending).
  * Equal times give one event each.
  * play() replaces the vector; it is meant to be called before finitialize.
  * Each event is emitted with net_event at exactly the stored time (bit for bit).

State kept per instance:
  index  position of the next element to look at (0-based)
  etime  time of the pending event, or -1 when none is pending
  ptr    the IvocVect* (a BBCOREPOINTER so NEURON keeps an opaque slot per instance)

VERBATIM uses only functions NEURON 9 declares in oc_ansi.h:
  ifarg, vector_arg, vector_capacity (= current size), vector_vec, vector_pobj,
  hoc_obj_ref, hoc_obj_unref;
and, in the CoreNEURON build (CORENEURON_BUILD), only vector_new1, vector_capacity and
vector_vec of coreneuron/utils/ivocvect.hpp: play() is NEURON's, the times reach
CoreNEURON through bbcore_write/bbcore_read.
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL SonataVecStim
    BBCOREPOINTER ptr
    RANGE index, etime
}

ASSIGNED {
    index
    etime (ms)
    ptr
}

INITIAL {
    LOCAL d
    index = 0
    etime = -1
    if (advance() == 1) {
        d = delay_to_etime()
        net_send(d, 1)
    }
}

NET_RECEIVE (w) {
    LOCAL d
    if (flag == 1) {
        : t is exactly the stored time here (see delay_to_etime)
        net_event(t)
        if (advance() == 1) {
            d = delay_to_etime()
            net_send(d, 1)
        }
    }
}

FUNCTION delay_to_etime() (ms) {
    : The self-event is queued at t + d. etime - t rounded may miss etime by an ulp, so
    : nudge d until t + d is exactly etime: spikes then carry the stored times bit for bit.
    delay_to_etime = etime - t
VERBATIM
    {
        double d = _ldelay_to_etime;
        for (int k = 0; k < 16 && t + d != etime; ++k) {
            d = nextafter(d, (t + d < etime) ? HUGE_VAL : -HUGE_VAL);
        }
        if (d < 0.0) {
            d = 0.0;
        }
        _ldelay_to_etime = d;
    }
ENDVERBATIM
}

FUNCTION advance() {
    : Move etime to the next element not earlier than t; 1 if there is one, else 0.
    advance = 0
    etime = -1
VERBATIM
    {
        IvocVect* vec = static_cast<IvocVect*>(_p_ptr);
        if (vec) {
            int n = vector_capacity(vec);
            double* times = vector_vec(vec);
            int i = static_cast<int>(index);
            while (i < n) {
                double x = times[i];
                ++i;
                if (x >= t) {
                    etime = x;
                    _ladvance = 1.0;
                    break;
                }
            }
            index = static_cast<double>(i);
        }
    }
ENDVERBATIM
}

PROCEDURE play() {
    : Keep a reference on the new vector's hoc object and drop the old one (NEURON only:
    : CoreNEURON gets the times through bbcore_read and never calls play).
VERBATIM
#ifndef CORENEURON_BUILD
    {
        IvocVect* old = static_cast<IvocVect*>(_p_ptr);
        IvocVect* vec = nullptr;
        if (ifarg(1)) {
            vec = vector_arg(1);
            hoc_obj_ref(*vector_pobj(vec));
        }
        _p_ptr = vec;
        if (old) {
            hoc_obj_unref(*vector_pobj(old));
        }
    }
#endif
ENDVERBATIM
    index = 0
}

DESTRUCTOR {
VERBATIM
#ifndef CORENEURON_BUILD
    {
        IvocVect* old = static_cast<IvocVect*>(_p_ptr);
        _p_ptr = nullptr;
        if (old) {
            hoc_obj_unref(*vector_pobj(old));
        }
    }
#endif
ENDVERBATIM
}

VERBATIM
/* The model's transfer between NEURON and CoreNEURON (direct mode, psolve after psolve):
   one int (the count) and the event times. Both sides write what their vector holds;
   CoreNEURON reads into a vector of its own, so every event NEURON would replay is
   replayed there too, at the same stored times. NEURON, reading back after a CoreNEURON
   run, keeps its own vector (the same times) and only skips the record. */
static void bbcore_write(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
    IvocVect* vec = static_cast<IvocVect*>(_p_ptr);
    int n = vec ? vector_capacity(vec) : 0;
    if (d) {
        d[*d_offset] = n;
    }
    if (x && n > 0) {
        double* times = vector_vec(vec);
        for (int i = 0; i < n; ++i) {
            x[*x_offset + i] = times[i];
        }
    }
    *d_offset += 1;
    *x_offset += n;
}

static void bbcore_read(double* x, int* d, int* x_offset, int* d_offset, _threadargsproto_) {
    int n = d[*d_offset];
#ifdef CORENEURON_BUILD
    IvocVect* vec = nullptr;
    if (n > 0) {
        vec = vector_new1(n);
        double* times = vector_vec(vec);
        for (int i = 0; i < n; ++i) {
            times[i] = x[*x_offset + i];
        }
    }
    _p_ptr = vec;
#endif
    *d_offset += 1;
    *x_offset += n;
}
ENDVERBATIM
