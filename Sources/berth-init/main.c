/*
 * berth-init: the container init of `berth run` and `berth exec`, as a small C program.
 *
 * All the work happens in CContainerInit's constructor, which runs before main() when
 * $_BERTH_INIT_FD is set and never returns. `berth` spawns this binary (found next to
 * itself) rather than re-executing its own, much larger, Swift executable: loading
 * Foundation and the Swift runtime would add tens of milliseconds to every container start.
 * Without the variable there is nothing to do.
 */
#include <stdio.h>
#include "CContainerInit.h"

int main(void) {
    (void)berth_container_init_linked();
    fputs("berth-init: internal helper of berth (run by `berth run` and `berth exec`)\n", stderr);
    return 125;
}
