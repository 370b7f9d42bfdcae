// stress/interrupt.h: Ctrl-C (SIGINT) as a request to stop the run
// cleanly. The handler only sets a lock-free atomic flag (async-signal-safe)
// and restores the default action, so a second Ctrl-C kills the program.

#ifndef INTERPHEAP_STRESS_INTERRUPT_H_
#define INTERPHEAP_STRESS_INTERRUPT_H_

namespace interpheap::stress {

// Installs the SIGINT handler. Call once, before the workers start.
void InstallInterruptHandler();

// True once SIGINT arrived. Thread-safe.
bool Interrupted();

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_INTERRUPT_H_
