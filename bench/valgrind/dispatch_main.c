/* Preloaded into CallTrack under valgrind only (relaybench.py --callgrind).
 *
 * Valgrind 3.19 crashes when a Swift async main parks the main thread in libdispatch's
 * dispatch_main(), which lets the main thread exit. This dispatch_main keeps the main thread and
 * runs the main queue on it, through the hooks libdispatch exports for a run loop: wait on the
 * queue's event descriptor, then drain. */
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

extern int _dispatch_get_main_queue_handle_4CF(void);
extern void _dispatch_main_queue_callback_4CF(void *message);

void dispatch_main(void) {
    int fd = _dispatch_get_main_queue_handle_4CF();
    for (;;) {
        struct pollfd wait = { .fd = fd, .events = POLLIN };
        if (poll(&wait, 1, -1) < 0) continue;
        uint64_t count;
        (void)!read(fd, &count, sizeof count);
        _dispatch_main_queue_callback_4CF(0);
    }
}
