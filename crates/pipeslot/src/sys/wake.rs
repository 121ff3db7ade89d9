#![allow(unsafe_code)]
//! Waiting for a message *inside* `recv(2)`, yet waking at once when the
//! call is cancelled: a blocked receive is interrupted by a signal sent to
//! its thread.
//!
//! # Why
//!
//! A blocking read that waits in `poll(2)` on its socket and its
//! cancellation doorbell, then receives, costs two system calls per wake
//! where a plain blocking `recv(2)` costs one — and on this project's
//! 2-vCPU machines the wait outside `recv` measured ~10 µs more per 64 B
//! round trip across CPUs (BENCHMARKS.md, "Issue 10"). Cancellation
//! (CancelSynchronousIo, CancelIoEx, closing a handle another thread
//! reads) must still reach the call at once, through something it waits
//! on, never by polling (S41).
//!
//! # How
//!
//! The receive is [`Sleeper::receive`]: `recvfrom(fd, buf, len, 0)` made
//! by a few instructions of assembly (below) that first look at the
//! sleeper's *woken* flag. A canceller sets the flag and sends the
//! process's wake signal to the sleeping thread (`pthread_kill`). The
//! handler, which does nothing else, looks at where the thread was
//! interrupted:
//!
//! - inside the kernel's `recvfrom`: the call returns `EINTR` (the handler
//!   is installed without `SA_RESTART`);
//! - between the flag check and the `syscall` instruction: the handler
//!   moves the thread to the stub's exit, which returns `EINTR` — so a
//!   signal that lands just before the thread enters the kernel cannot be
//!   lost, which a flag check in Rust followed by a library `recv` could
//!   not promise (this is how musl's and glibc's thread cancellation close
//!   the same window);
//! - anywhere else (before the stub, or after the call returned): nothing;
//!   the stub's flag check, or the caller's own check after the call,
//!   sees the cancellation.
//!
//! # The signal
//!
//! A library must not take a process-wide signal behind its host's back,
//! so pipeslot takes one only if nobody else did: the first blocking
//! receive installs the handler for `SIGRTMIN + 7` (or the signal
//! `PIPESLOT_WAKE_SIGNAL` names, a number) if, and only if, that signal's
//! disposition is still the default; otherwise, or with
//! `PIPESLOT_WAKE_SIGNAL=off`, or on a machine other than x86-64 Linux,
//! blocking receives wait in `poll(2)` as before. Each thread that waits
//! this way unblocks the signal in its own mask the first time (a thread
//! that blocks it again afterwards must not wait on pipeslot handles while
//! it stays blocked: the wake would stay pending). The handler only
//! rewrites the interrupted instruction pointer, and only inside the stub;
//! it touches no memory and no `errno`.

use std::cell::OnceCell;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// One thread's way of sleeping in `recv(2)` (see the module docs): kept
/// per thread for its life, registered with a handle's waits while it
/// receives.
#[derive(Debug)]
pub(crate) struct Sleeper {
    /// Non-zero once a canceller woke this receive; the stub looks at it
    /// before it enters the kernel.
    woken: AtomicU32,
    /// The thread, for `pthread_kill` (also right in a forked child, where
    /// the thread id changed).
    thread: libc::pthread_t,
    signal: libc::c_int,
}

thread_local! {
    static SLEEPER: OnceCell<Option<Arc<Sleeper>>> = const { OnceCell::new() };
}

/// This thread's sleeper, or `None` where blocking receives wait in
/// `poll(2)` (see the module docs).
pub(crate) fn sleeper() -> Option<Arc<Sleeper>> {
    SLEEPER.with(|cell| {
        cell.get_or_init(|| {
            let signal = (*installed())?;
            unblock(signal).ok()?;
            Some(Arc::new(Sleeper {
                woken: AtomicU32::new(0),
                // SAFETY: pthread_self has no preconditions.
                thread: unsafe { libc::pthread_self() },
                signal,
            }))
        })
        .clone()
    })
}

impl Sleeper {
    /// Makes the sleeper ready for a new receive (a canceller registered
    /// it meanwhile sets the flag again). Called before the receive is
    /// registered where cancellers find it.
    pub(crate) fn arm(&self) {
        self.woken.store(0, Ordering::SeqCst);
    }

    /// Whether a canceller woke the receive since [`Sleeper::arm`].
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::SeqCst) != 0
    }

    /// Wakes the receive: sets the flag, then interrupts the thread. Only
    /// for a sleeper registered now (its thread is inside the receive, or
    /// about to be, and cannot end meanwhile).
    pub(crate) fn wake(&self) {
        self.woken.store(1, Ordering::SeqCst);
        // SAFETY: the thread is alive: it stays registered (and so inside
        // its call) until the caller's lock lets it unregister.
        unsafe { libc::pthread_kill(self.thread, self.signal) };
    }

    /// `recvfrom(fd, buf, BOUNCE, 0)` into `buf`, blocking if the socket
    /// blocks, from the calling thread, which must be this sleeper's.
    /// `EINTR` when woken (or interrupted by another signal: the caller
    /// looks at [`Sleeper::is_woken`] and its own cancellation).
    pub(crate) fn receive(&self, fd: BorrowedFd<'_>, buf: &mut Bounce) -> io::Result<usize> {
        buf.filled = 0;
        let n = stub::receive(&self.woken, fd.as_raw_fd(), &mut buf.bytes);
        if n < 0 {
            Err(io::Error::from_raw_os_error((-n) as i32))
        } else {
            // The kernel never reports more than it was given room for.
            buf.filled = (n as usize).min(BOUNCE);
            Ok(buf.filled)
        }
    }
}

/// The most one receive inside `recv(2)` takes.
pub(crate) const BOUNCE: usize = 4096;

/// Room for one receive inside `recv(2)`, on the caller's stack and not
/// zeroed first (the receive copies from it into the connection's
/// buffer).
pub(crate) struct Bounce {
    bytes: [MaybeUninit<u8>; BOUNCE],
    filled: usize,
}

impl Bounce {
    pub(crate) fn new() -> Bounce {
        // Built field by field: written as a struct literal, the compiler
        // merged the uninitialised bytes with `filled`'s zero into one
        // 4 KiB `memset` per wait.
        let mut bounce = MaybeUninit::<Bounce>::uninit();
        // SAFETY: `filled` is written through a raw pointer to the field
        // (no reference to uninitialised memory); `bytes` may stay
        // uninitialised (an array of `MaybeUninit`), so the whole value is
        // initialised once `filled` is.
        unsafe {
            std::ptr::addr_of_mut!((*bounce.as_mut_ptr()).filled).write(0);
            bounce.assume_init()
        }
    }

    /// What the last receive put there.
    pub(crate) fn filled(&self) -> &[u8] {
        // SAFETY: `recvfrom` initialised the first `filled` bytes (at most
        // BOUNCE, `Sleeper::receive`).
        unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<u8>(), self.filled) }
    }
}

/// The wake signal, once its handler is installed; `None` when blocking
/// receives wait in `poll(2)`.
fn installed() -> &'static Option<libc::c_int> {
    static INSTALLED: OnceLock<Option<libc::c_int>> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if !stub::SUPPORTED {
            return None;
        }
        let signal = match std::env::var("PIPESLOT_WAKE_SIGNAL") {
            Err(_) => libc::SIGRTMIN() + 7,
            Ok(v) if v.eq_ignore_ascii_case("off") => return None,
            Ok(v) => v.trim().parse().ok()?,
        };
        if signal < libc::SIGRTMIN() || signal > libc::SIGRTMAX() {
            return None;
        }
        install(signal).then_some(signal)
    })
}

/// Installs the handler for `signal` if its disposition is the default.
fn install(signal: libc::c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `old`, a zeroed struct of the right type.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    if unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } != 0
        || old.sa_sigaction != libc::SIG_DFL
    {
        return false;
    }
    // SAFETY: a zeroed sigaction is valid; the handler is an
    // `extern "C" fn(c_int, *mut siginfo_t, *mut c_void)` as SA_SIGINFO
    // asks; no SA_RESTART, so an interrupted recv returns EINTR.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = stub::on_wake as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO;
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) == 0 }
}

/// Unblocks `signal` in this thread's mask.
fn unblock(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: `set` is initialised by sigemptyset before use; a null old
    // mask is allowed.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod stub {
    use std::sync::atomic::AtomicU32;

    pub(super) const SUPPORTED: bool = true;

    // recvfrom(fd, buf, len, 0, NULL, NULL) unless *flag != 0.
    // rdi = flag, rsi = fd, rdx = buf, rcx = len; returns rax (-errno).
    // `$widen`: instructions between the flag check and the syscall; the
    // tests widen that window to a few microseconds so that signals land
    // in it (nothing in normal builds).
    macro_rules! stub {
        ($($widen:literal,)*) => {
            std::arch::global_asm!(
                ".pushsection .text.pipeslot_wake_recv,\"ax\",@progbits",
                ".p2align 4",
                ".globl pipeslot_wake_recv_v1",
                ".hidden pipeslot_wake_recv_v1",
                ".type pipeslot_wake_recv_v1,@function",
                "pipeslot_wake_recv_v1:",
                "    mov eax, dword ptr [rdi]",
                "    test eax, eax",
                "    jnz pipeslot_wake_recv_out_v1",
                $($widen,)*
                "    mov rdi, rsi",
                "    mov rsi, rdx",
                "    mov rdx, rcx",
                "    xor r10d, r10d",
                "    xor r8d, r8d",
                "    xor r9d, r9d",
                "    mov eax, 45",
                ".globl pipeslot_wake_recv_enter_v1",
                ".hidden pipeslot_wake_recv_enter_v1",
                "pipeslot_wake_recv_enter_v1:",
                "    syscall",
                "    ret",
                ".globl pipeslot_wake_recv_out_v1",
                ".hidden pipeslot_wake_recv_out_v1",
                "pipeslot_wake_recv_out_v1:",
                "    mov rax, -4",
                "    ret",
                ".size pipeslot_wake_recv_v1, .-pipeslot_wake_recv_v1",
                ".popsection",
            );
        };
    }
    #[cfg(not(test))]
    stub!();
    // About 2,000 `pause`s (r11 is free: the syscall clobbers it anyway).
    #[cfg(test)]
    stub!(
        "    mov r11d, 2000",
        "2:",
        "    pause",
        "    dec r11d",
        "    jnz 2b",
    );

    extern "C" {
        fn pipeslot_wake_recv_v1(
            flag: *const AtomicU32,
            fd: libc::c_int,
            buf: *mut u8,
            len: usize,
        ) -> isize;
        static pipeslot_wake_recv_enter_v1: u8;
        static pipeslot_wake_recv_out_v1: u8;
    }

    pub(super) fn receive(
        flag: &AtomicU32,
        fd: libc::c_int,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> isize {
        // SAFETY: the stub reads the flag (a live AtomicU32; a plain load
        // is an atomic load on x86-64) and makes recvfrom into `buf`, whose
        // length it is given (recvfrom only writes); it clobbers only
        // caller-saved registers.
        unsafe { pipeslot_wake_recv_v1(flag, fd, buf.as_mut_ptr().cast(), buf.len()) }
    }

    /// The wake signal's handler: moves a thread interrupted between the
    /// stub's flag check and its `syscall` to the stub's exit (`EINTR`).
    pub(super) extern "C" fn on_wake(
        _signal: libc::c_int,
        _info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) {
        let begin = pipeslot_wake_recv_v1 as *const () as usize;
        // Only the labels' addresses are taken.
        let (enter, out) = (
            std::ptr::addr_of!(pipeslot_wake_recv_enter_v1) as usize,
            std::ptr::addr_of!(pipeslot_wake_recv_out_v1) as usize,
        );
        // SAFETY: with SA_SIGINFO the kernel passes the interrupted
        // thread's ucontext, valid for the handler's duration; changing
        // its saved instruction pointer is what sigreturn then resumes.
        unsafe {
            let context = &mut *context.cast::<libc::ucontext_t>();
            let pc = &mut context.uc_mcontext.gregs[libc::REG_RIP as usize];
            let at = *pc as usize;
            if (begin..=enter).contains(&at) {
                *pc = out as i64;
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod stub {
    use std::sync::atomic::AtomicU32;

    pub(super) const SUPPORTED: bool = false;

    pub(super) fn receive(
        _flag: &AtomicU32,
        _fd: libc::c_int,
        _buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> isize {
        -(libc::ENOSYS as isize)
    }

    pub(super) extern "C" fn on_wake(
        _signal: libc::c_int,
        _info: *mut libc::siginfo_t,
        _context: *mut libc::c_void,
    ) {
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::error::{ErrorKind, Result};
    use crate::pipe::cancel::{Cancel, Token};

    /// A receive inside `recv(2)` on an idle socket, through `token`.
    fn receive_idle(
        token: &Token,
        socket: &std::os::unix::net::UnixStream,
    ) -> Result<Option<usize>> {
        use std::os::fd::AsFd;
        let mut buf = super::Bounce::new();
        token.receive(
            |sleeper, buf| Some(sleeper.receive(socket.as_fd(), buf)),
            &mut buf,
            "test",
        )
    }

    // S41: a cancel reaches a receive blocked inside recv(2) at once, wherever
    // the receiving thread is when the signal lands — before the stub, in the
    // few instructions before the kernel (the handler moves it out), or in
    // the kernel. Both threads spin, and the cancel comes after a delay that
    // sweeps the receive's start, many times over; a lost wake-up fails the
    // round after 10 s.
    #[test]
    fn a_cancel_wakes_a_receive_inside_recv_wherever_it_lands() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Mutex;
        if super::sleeper().is_none() {
            eprintln!("skipped: blocking receives wait in poll(2) here");
            return;
        }
        let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let next: Arc<Mutex<Option<Token>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let receiver = {
            let (stop, next) = (stop.clone(), next.clone());
            std::thread::spawn(move || loop {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let Some(token) = next.lock().unwrap().take() else {
                    std::hint::spin_loop();
                    continue;
                };
                tx.send(receive_idle(&token, &socket).map_err(|e| e.kind()))
                    .unwrap();
            })
        };
        for round in 1..=20_000u32 {
            let cancel = Cancel::new();
            *next.lock().unwrap() = Some(cancel.token());
            for _ in 0..(round % 97) * 7 {
                std::hint::spin_loop();
            }
            cancel.cancel();
            let got = rx.recv_timeout(Duration::from_secs(10));
            assert_eq!(
                got,
                Ok(Err(ErrorKind::OperationAborted)),
                "round {round}: the cancel was lost"
            );
        }
        stop.store(true, Ordering::Release);
        receiver.join().unwrap();
    }

    // A signal of the host's own that interrupts the receive (a handler
    // without SA_RESTART) is not a cancel: the receive goes on and gets the
    // bytes sent after it.
    #[test]
    fn another_signal_does_not_end_a_receive_inside_recv() {
        use std::io::Write;
        if crate::sys::wake::sleeper().is_none() {
            eprintln!("skipped: blocking receives wait in poll(2) here");
            return;
        }
        extern "C" fn nothing(_: libc::c_int) {}
        // SAFETY: a zeroed sigaction with a plain handler, no SA_RESTART;
        // SIGURG is otherwise ignored by default and used by no other test.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = nothing as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut()),
                0
            );
        }
        let (socket, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let cancel = Cancel::new();
        let token = cancel.token();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            receive_idle(&token, &socket)
        });
        let thread = rx.recv().unwrap();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(2));
            // SAFETY: the thread is alive until it returns, which it cannot
            // before the bytes below are sent.
            unsafe { libc::pthread_kill(thread, libc::SIGURG) };
        }
        peer.write_all(b"hello").unwrap();
        assert_eq!(t.join().unwrap().map_err(|e| e.kind()), Ok(Some(5)));
    }
}
