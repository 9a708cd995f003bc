// How poslab's OpenMP threads wait, chosen before the OpenMP runtime starts.
//
// libgomp spins for ~300,000 iterations (milliseconds) at every barrier before it sleeps.
// On an idle machine that saves a futex wake-up per parallel region; beside a busy
// neighbour (another run, a compile) the spinning threads burn the cores the neighbour
// and the one late thread need, and a step slows down far more than the neighbour's
// share (issue 14). So poslab waits passively by default (OMP_WAIT_POLICY=passive) and
// respects any choice the user made (OMP_WAIT_POLICY or GOMP_SPINCOUNT already set).
//
// When: libgomp reads its environment once, in its own ELF constructor, before main() —
// a setenv in main() is too late, and one in a preinit_array function or an
// `-z initfirst` library is undone because libc's own initialisation resets `environ`
// afterwards. This file is therefore its own shared library, linked right after libgomp
// (CMakeLists.txt: poslab_base's link interface), and the dynamic loader initialises
// libraries in reverse order of their DT_NEEDED entries (dependencies first): this
// constructor runs after libc's and before libgomp's. tests/wait_policy_test.cpp checks
// the effect through OMP_DISPLAY_ENV, so a change of link order cannot go unnoticed.
#include <cstdlib>

namespace {

__attribute__((constructor)) void default_to_passive_waiting() {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr)
    setenv("OMP_WAIT_POLICY", "passive", 0);
}

}  // namespace
