/*
 * tsan.c - ThreadSanitizer's suppressions for the tide binary.
 *
 * libzmq is not instrumented, so TSan cannot see how it hands messages
 * between its I/O thread and ours and reports its internals as races (and
 * libsodium's, which decrypts CURVE traffic into libzmq's buffers). libtide
 * (net/zmq.c) suppresses them for programs linked with it statically; the
 * tide binary links libtide.so, where the sanitizer runtime's own weak
 * default shadows that definition, so the executable repeats it.
 */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    /* CURVE: libsodium decrypts into libzmq's buffers, equally unseen. */
    return "called_from_lib:libzmq.so\nrace:libzmq.so\n"
           "called_from_lib:libsodium.so\nrace:libsodium.so\n";
}
#else
typedef int tide_tsan_unused; /* ISO C wants a declaration in every file */
#endif
