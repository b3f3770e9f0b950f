COMMENT
SonataTestCall: functions written to fail when a template calls them (tests only):
segfault_SonataTestCall() dereferences a null pointer, execerror_SonataTestCall() raises
a hoc error from compiled code. No range variables, so no setdata is needed.
ENDCOMMENT

NEURON {
    SUFFIX SonataTestCall
}

FUNCTION segfault() {
VERBATIM
    *(volatile int*) 0 = 0;
ENDVERBATIM
    segfault = 0
}

FUNCTION execerror() {
VERBATIM
    hoc_execerror("SonataTestFault: deliberate error from compiled code", 0);
ENDVERBATIM
    execerror = 0
}
