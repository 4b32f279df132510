/* cudaemu.h: a CPU emulation of the part of CUDA the backend uses (tests/cudaemu/README.md).
 * The backend's .cu files, rewritten by tests/cudaemu/cu2c.py (launches `k<<<g, b, s, st>>>(...)`
 * become EMU_LAUNCH, `dim3 g(x, y)` an initialiser, `extern "C"` goes), compile as C11 + GNU
 * extensions against this header: every kernel then runs on the CPU, one block at a time, each
 * CUDA thread a coroutine with its own stack that yields at __syncthreads and at the warp
 * operations (__shfl_xor_sync, __ballot_sync), so barriers and warp exchanges keep their
 * meaning. Kernel code is compiled unchanged; what the emulator cannot show (the device's
 * memory model beyond the race detector's rules, its exact expf/tanhf, a host read of device
 * memory) is listed in the README. For tests only: never linked into the program a user runs. */
#ifndef COMPACTER_CUDAEMU_H
#define COMPACTER_CUDAEMU_H

#include <math.h>
#include <stdbool.h>
/* nvcc compiles .cu files as C++, where exp, sqrt, fabs, fmax... of floats call the float
 * overloads; in C they would convert to double and back (another rounding, another result,
 * silently). <tgmath.h> cannot be used (glibc turns _Float128 off under __CUDACC__), so the
 * overloads the kernels could reach are here: float arguments take the f function (in the
 * rewritten .cu files only, which the Makefile compiles with -D__CUDACC__). */
#ifdef __CUDACC__
#define EMU_TG1(fn, x) _Generic((x), float: fn##f, long double: fn##l, default: fn)(x)
#define EMU_TG2(fn, x, y) _Generic((x), float: _Generic((y), float: fn##f, default: fn), default: fn)(x, y)
#define exp(x) EMU_TG1(exp, x)
#define exp2(x) EMU_TG1(exp2, x)
#define expm1(x) EMU_TG1(expm1, x)
#define log(x) EMU_TG1(log, x)
#define log2(x) EMU_TG1(log2, x)
#define log10(x) EMU_TG1(log10, x)
#define log1p(x) EMU_TG1(log1p, x)
#define sqrt(x) EMU_TG1(sqrt, x)
#define cbrt(x) EMU_TG1(cbrt, x)
#define fabs(x) EMU_TG1(fabs, x)
#define sin(x) EMU_TG1(sin, x)
#define cos(x) EMU_TG1(cos, x)
#define tan(x) EMU_TG1(tan, x)
#define sinh(x) EMU_TG1(sinh, x)
#define cosh(x) EMU_TG1(cosh, x)
#define tanh(x) EMU_TG1(tanh, x)
#define asin(x) EMU_TG1(asin, x)
#define acos(x) EMU_TG1(acos, x)
#define atan(x) EMU_TG1(atan, x)
#define erf(x) EMU_TG1(erf, x)
#define erfc(x) EMU_TG1(erfc, x)
#define floor(x) EMU_TG1(floor, x)
#define ceil(x) EMU_TG1(ceil, x)
#define round(x) EMU_TG1(round, x)
#define trunc(x) EMU_TG1(trunc, x)
#define rint(x) EMU_TG1(rint, x)
#define pow(x, y) EMU_TG2(pow, x, y)
#define fmax(x, y) EMU_TG2(fmax, x, y)
#define fmin(x, y) EMU_TG2(fmin, x, y)
#define fmod(x, y) EMU_TG2(fmod, x, y)
#define atan2(x, y) EMU_TG2(atan2, x, y)
#define hypot(x, y) EMU_TG2(hypot, x, y)
#define copysign(x, y) EMU_TG2(copysign, x, y)
#endif
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- runtime API (host) */
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorLaunchFailure = 4,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;

#define cudaEventDefault 0u
#define cudaEventBlockingSync 1u
#define cudaEventDisableTiming 2u

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    int regsPerBlock;
    int warpSize;
    int maxThreadsPerBlock;
    int maxThreadsDim[3];
    int maxGridSize[3];
    int major;
    int minor;
    int multiProcessorCount;
};

#ifdef __cplusplus
extern "C" {
#endif
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            cudaStream_t s);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t from, cudaEvent_t to);
cudaError_t cudaEventDestroy(cudaEvent_t e);
/* cudaMemcpyToSymbol / FromSymbol take the symbol itself (a C++ reference in CUDA); as CUDA,
 * a copy past the symbol's end is cudaErrorInvalidValue (sym_bytes: its sizeof) and the
 * optional offset and kind arguments are taken (kind 0: the default direction) */
cudaError_t emu_memcpy_symbol(void *dst, const void *src, size_t bytes, size_t offset, size_t sym_bytes,
                              int kind, int to_symbol);
#ifdef __cplusplus
}
#endif
#define cudaMemcpyToSymbol(sym, src, ...) EMU_SYM_TO_((void *)&(sym), sizeof(sym), (src), __VA_ARGS__, 0, 0)
#define EMU_SYM_TO_(p, size, src, bytes, offset, kind, ...) \
    emu_memcpy_symbol((char *)(p) + (size_t)(offset), (src), (bytes), (offset), (size), (kind), 1)
#define cudaMemcpyFromSymbol(dst, sym, ...) EMU_SYM_FROM_((dst), (const void *)&(sym), sizeof(sym), __VA_ARGS__, 0, 0)
#define EMU_SYM_FROM_(dst, p, size, bytes, offset, kind, ...) \
    emu_memcpy_symbol((dst), (const char *)(p) + (size_t)(offset), (bytes), (offset), (size), (kind), 0)

/* 1 when [p, p + bytes) lies inside one device allocation (the emulated cuBLAS's checks) */
int emu_device_range(const void *p, size_t bytes);

/* ---------------------------------------------------------------- launches */
typedef struct { unsigned x, y, z; } uint3;
typedef struct { unsigned x, y, z; } dim3;

static inline dim3 emu_dim3_same(dim3 d) { return d; }
static inline dim3 emu_dim3_from(unsigned x) { dim3 d = {x, 1u, 1u}; return d; }
/* a launch configuration's grid or block: a dim3, or an integer converted as dim3(unsigned) */
#define EMU_DIM3(v) _Generic((v), dim3: emu_dim3_same, default: emu_dim3_from)(v)
static inline dim3 emu_dim3_xyz(unsigned x, unsigned y, unsigned z) { dim3 d = {x, y, z}; return d; }
/* `dim3 g(x, y)` rewritten: dim3 g = EMU_DIM3_CTOR(x, y) */
#define EMU_DIM3_CTOR(...) EMU_DIM3_CTOR_(__VA_ARGS__, 1u, 1u, 0)
#define EMU_DIM3_CTOR_(x, y, z, ...) emu_dim3_xyz((unsigned)(x), (unsigned)(y), (unsigned)(z))

typedef void (*emu_thunk_fn)(void *args);
/* A kernel argument that is a pointer (is_pointer, its value at *slot) must be NULL or point
 * into (or just past) a device allocation: on a GPU a host pointer faults. Stops the program
 * with the kernel's name and the argument's position otherwise. */
void emu_check_pointer_arg(const char *kernel, int position, int is_pointer, const void *slot);
/* Count one run of a kernel, cuBLAS call or copy by name (CUDAEMU_STATS=ops lists them) */
void emu_count_op(const char *name);
/* Run `fn(args)` as every thread of a grid; records a launch error for cudaGetLastError */
void emu_launch(const char *kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                emu_thunk_fn fn, void *args);
#define EMU_CFG(...) EMU_CFG_(__VA_ARGS__, 0, 0)
#define EMU_CFG_(g, b, smem, st, ...) EMU_DIM3(g), EMU_DIM3(b), (size_t)(smem), (cudaStream_t)(st)

#define EMU_CAT(a, b) EMU_CAT_(a, b)
#define EMU_CAT_(a, b) a##b
#define EMU_NARGS(...) EMU_NARGS_(__VA_ARGS__, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define EMU_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, N, ...) N
#define EMU_M1(a) __typeof__(a) m1;
#define EMU_M2(a1, a2) EMU_M1(a1) __typeof__(a2) m2;
#define EMU_M3(a1, a2, a3) EMU_M2(a1, a2) __typeof__(a3) m3;
#define EMU_M4(a1, a2, a3, a4) EMU_M3(a1, a2, a3) __typeof__(a4) m4;
#define EMU_M5(a1, a2, a3, a4, a5) EMU_M4(a1, a2, a3, a4) __typeof__(a5) m5;
#define EMU_M6(a1, a2, a3, a4, a5, a6) EMU_M5(a1, a2, a3, a4, a5) __typeof__(a6) m6;
#define EMU_M7(a1, a2, a3, a4, a5, a6, a7) EMU_M6(a1, a2, a3, a4, a5, a6) __typeof__(a7) m7;
#define EMU_M8(a1, a2, a3, a4, a5, a6, a7, a8) EMU_M7(a1, a2, a3, a4, a5, a6, a7) __typeof__(a8) m8;
#define EMU_M9(a1, a2, a3, a4, a5, a6, a7, a8, a9) EMU_M8(a1, a2, a3, a4, a5, a6, a7, a8) __typeof__(a9) m9;
#define EMU_M10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) EMU_M9(a1, a2, a3, a4, a5, a6, a7, a8, a9) __typeof__(a10) m10;
#define EMU_M11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) EMU_M10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) __typeof__(a11) m11;
#define EMU_M12(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) EMU_M11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) __typeof__(a12) m12;
#define EMU_M13(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) EMU_M12(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) __typeof__(a13) m13;
#define EMU_M14(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) EMU_M13(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) __typeof__(a14) m14;
#define EMU_M15(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) EMU_M14(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) __typeof__(a15) m15;
#define EMU_M16(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16) EMU_M15(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) __typeof__(a16) m16;
#define EMU_M17(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17) EMU_M16(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16) __typeof__(a17) m17;
#define EMU_M18(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18) EMU_M17(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17) __typeof__(a18) m18;
#define EMU_M19(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19) EMU_M18(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18) __typeof__(a19) m19;
#define EMU_M20(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20) EMU_M19(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19) __typeof__(a20) m20;
#define EMU_M21(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21) EMU_M20(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20) __typeof__(a21) m21;
#define EMU_M22(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) EMU_M21(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21) __typeof__(a22) m22;
#define EMU_M23(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23) EMU_M22(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) __typeof__(a23) m23;
#define EMU_M24(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24) EMU_M23(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23) __typeof__(a24) m24;
/* argument i of a launch: a pointer must be NULL or point into a device allocation */
#define EMU_P1(k, a) emu_check_pointer_arg(#k, 1, __builtin_classify_type((a)->m1) == 5, &(a)->m1);
#define EMU_P2(k, a) EMU_P1(k, a) emu_check_pointer_arg(#k, 2, __builtin_classify_type((a)->m2) == 5, &(a)->m2);
#define EMU_P3(k, a) EMU_P2(k, a) emu_check_pointer_arg(#k, 3, __builtin_classify_type((a)->m3) == 5, &(a)->m3);
#define EMU_P4(k, a) EMU_P3(k, a) emu_check_pointer_arg(#k, 4, __builtin_classify_type((a)->m4) == 5, &(a)->m4);
#define EMU_P5(k, a) EMU_P4(k, a) emu_check_pointer_arg(#k, 5, __builtin_classify_type((a)->m5) == 5, &(a)->m5);
#define EMU_P6(k, a) EMU_P5(k, a) emu_check_pointer_arg(#k, 6, __builtin_classify_type((a)->m6) == 5, &(a)->m6);
#define EMU_P7(k, a) EMU_P6(k, a) emu_check_pointer_arg(#k, 7, __builtin_classify_type((a)->m7) == 5, &(a)->m7);
#define EMU_P8(k, a) EMU_P7(k, a) emu_check_pointer_arg(#k, 8, __builtin_classify_type((a)->m8) == 5, &(a)->m8);
#define EMU_P9(k, a) EMU_P8(k, a) emu_check_pointer_arg(#k, 9, __builtin_classify_type((a)->m9) == 5, &(a)->m9);
#define EMU_P10(k, a) EMU_P9(k, a) emu_check_pointer_arg(#k, 10, __builtin_classify_type((a)->m10) == 5, &(a)->m10);
#define EMU_P11(k, a) EMU_P10(k, a) emu_check_pointer_arg(#k, 11, __builtin_classify_type((a)->m11) == 5, &(a)->m11);
#define EMU_P12(k, a) EMU_P11(k, a) emu_check_pointer_arg(#k, 12, __builtin_classify_type((a)->m12) == 5, &(a)->m12);
#define EMU_P13(k, a) EMU_P12(k, a) emu_check_pointer_arg(#k, 13, __builtin_classify_type((a)->m13) == 5, &(a)->m13);
#define EMU_P14(k, a) EMU_P13(k, a) emu_check_pointer_arg(#k, 14, __builtin_classify_type((a)->m14) == 5, &(a)->m14);
#define EMU_P15(k, a) EMU_P14(k, a) emu_check_pointer_arg(#k, 15, __builtin_classify_type((a)->m15) == 5, &(a)->m15);
#define EMU_P16(k, a) EMU_P15(k, a) emu_check_pointer_arg(#k, 16, __builtin_classify_type((a)->m16) == 5, &(a)->m16);
#define EMU_P17(k, a) EMU_P16(k, a) emu_check_pointer_arg(#k, 17, __builtin_classify_type((a)->m17) == 5, &(a)->m17);
#define EMU_P18(k, a) EMU_P17(k, a) emu_check_pointer_arg(#k, 18, __builtin_classify_type((a)->m18) == 5, &(a)->m18);
#define EMU_P19(k, a) EMU_P18(k, a) emu_check_pointer_arg(#k, 19, __builtin_classify_type((a)->m19) == 5, &(a)->m19);
#define EMU_P20(k, a) EMU_P19(k, a) emu_check_pointer_arg(#k, 20, __builtin_classify_type((a)->m20) == 5, &(a)->m20);
#define EMU_P21(k, a) EMU_P20(k, a) emu_check_pointer_arg(#k, 21, __builtin_classify_type((a)->m21) == 5, &(a)->m21);
#define EMU_P22(k, a) EMU_P21(k, a) emu_check_pointer_arg(#k, 22, __builtin_classify_type((a)->m22) == 5, &(a)->m22);
#define EMU_P23(k, a) EMU_P22(k, a) emu_check_pointer_arg(#k, 23, __builtin_classify_type((a)->m23) == 5, &(a)->m23);
#define EMU_P24(k, a) EMU_P23(k, a) emu_check_pointer_arg(#k, 24, __builtin_classify_type((a)->m24) == 5, &(a)->m24);
#define EMU_U1(p) (p)->m1
#define EMU_U2(p) EMU_U1(p), (p)->m2
#define EMU_U3(p) EMU_U2(p), (p)->m3
#define EMU_U4(p) EMU_U3(p), (p)->m4
#define EMU_U5(p) EMU_U4(p), (p)->m5
#define EMU_U6(p) EMU_U5(p), (p)->m6
#define EMU_U7(p) EMU_U6(p), (p)->m7
#define EMU_U8(p) EMU_U7(p), (p)->m8
#define EMU_U9(p) EMU_U8(p), (p)->m9
#define EMU_U10(p) EMU_U9(p), (p)->m10
#define EMU_U11(p) EMU_U10(p), (p)->m11
#define EMU_U12(p) EMU_U11(p), (p)->m12
#define EMU_U13(p) EMU_U12(p), (p)->m13
#define EMU_U14(p) EMU_U13(p), (p)->m14
#define EMU_U15(p) EMU_U14(p), (p)->m15
#define EMU_U16(p) EMU_U15(p), (p)->m16
#define EMU_U17(p) EMU_U16(p), (p)->m17
#define EMU_U18(p) EMU_U17(p), (p)->m18
#define EMU_U19(p) EMU_U18(p), (p)->m19
#define EMU_U20(p) EMU_U19(p), (p)->m20
#define EMU_U21(p) EMU_U20(p), (p)->m21
#define EMU_U22(p) EMU_U21(p), (p)->m22
#define EMU_U23(p) EMU_U22(p), (p)->m23
#define EMU_U24(p) EMU_U23(p), (p)->m24

/* `kernel<<<cfg>>>(a, b, ...)` rewritten: the arguments are evaluated once, at the launch, into
 * a struct, and a nested function that uses no enclosing variable (no trampoline, no
 * executable stack) calls the kernel with them on each emulated thread. */
#define EMU_LAUNCH(kernel, cfg, ...)                                                               \
    do {                                                                                           \
        struct emu_args_ {                                                                         \
            EMU_CAT(EMU_M, EMU_NARGS(__VA_ARGS__))(__VA_ARGS__)                                    \
        } emu_a_ = {__VA_ARGS__};                                                                  \
        EMU_CAT(EMU_P, EMU_NARGS(__VA_ARGS__))(kernel, &emu_a_)                                    \
        void emu_thunk_(void *p_) {                                                                \
            struct emu_args_ *a_ = (struct emu_args_ *)p_;                                         \
            kernel(EMU_CAT(EMU_U, EMU_NARGS(__VA_ARGS__))(a_));                                    \
        }                                                                                          \
        emu_launch(#kernel, EMU_CFG cfg, emu_thunk_, &emu_a_);                                     \
    } while (0)

/* ---------------------------------------------------------------- device code */
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__
#define __noinline__
/* blocks run one at a time: a static is one block's shared memory. They all lie in one
 * section, which the scheduler fills with 0xff bytes (NaN as floats) before each block: on a
 * GPU a block's shared memory starts as garbage (often an earlier block's), never as zeros. */
#define __shared__ static __attribute__((section("emu_shared")))
#define __restrict__ restrict
#define __launch_bounds__(...)
#define __ldg(p) (*(p))

/* the running thread's coordinates (set by the scheduler before it resumes a thread) */
extern uint3 emu_thread_idx;
#define threadIdx emu_thread_idx
extern uint3 emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
#define warpSize 32

/* IEEE round-to-nearest arithmetic: the emulator builds with -ffp-contract=off */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
static inline double rsqrt(double a) { return 1.0 / sqrt(a); }

/* barriers and warp exchanges: the calling thread yields until its block (warp) arrives */
void __syncthreads(void);
void emu_syncwarp(unsigned mask);
#define __syncwarp(...) emu_syncwarp(0xffffffffu) /* the mask is not checked */
unsigned __ballot_sync(unsigned mask, int pred);
/* a warp shuffle on 64-bit words: the word of the lane `mode` and `arg` pick, with PTX
 * shfl.sync's rules (cudaemu.c: 5-bit lane argument; xor may read an earlier segment) */
uint64_t emu_warp_exchange(unsigned mask, uint64_t word, int mode, int arg, int width);
enum { EMU_SHFL_IDX, EMU_SHFL_XOR, EMU_SHFL_DOWN, EMU_SHFL_UP };

#define EMU_SHFL_TYPED(T, suffix)                                                                  \
    static inline T emu_shfl_##suffix(unsigned mask, T v, int mode, int arg, int width) {           \
        uint64_t w = 0;                                                                            \
        memcpy(&w, &v, sizeof v);                                                                  \
        w = emu_warp_exchange(mask, w, mode, arg, width);                                          \
        T r;                                                                                       \
        memcpy(&r, &w, sizeof r);                                                                  \
        return r;                                                                                  \
    }
EMU_SHFL_TYPED(float, f)
EMU_SHFL_TYPED(double, d)
EMU_SHFL_TYPED(int, i)
EMU_SHFL_TYPED(unsigned, u)
EMU_SHFL_TYPED(long long, ll)
EMU_SHFL_TYPED(unsigned long long, ull)
#define EMU_SHFL(mask, v, mode, arg, width)                                                        \
    _Generic((v), float: emu_shfl_f, double: emu_shfl_d, int: emu_shfl_i, unsigned: emu_shfl_u,   \
             long long: emu_shfl_ll, unsigned long long: emu_shfl_ull)(mask, v, mode, arg, width)
/* the optional width argument (default 32) */
#define EMU_WIDTH(...) EMU_WIDTH_(_, ##__VA_ARGS__, 32)
#define EMU_WIDTH_(_, w, ...) (w)
#define __shfl_sync(mask, v, lane, ...) EMU_SHFL(mask, v, EMU_SHFL_IDX, lane, EMU_WIDTH(__VA_ARGS__))
#define __shfl_xor_sync(mask, v, m, ...) EMU_SHFL(mask, v, EMU_SHFL_XOR, m, EMU_WIDTH(__VA_ARGS__))
#define __shfl_down_sync(mask, v, d, ...) EMU_SHFL(mask, v, EMU_SHFL_DOWN, d, EMU_WIDTH(__VA_ARGS__))
#define __shfl_up_sync(mask, v, d, ...) EMU_SHFL(mask, v, EMU_SHFL_UP, d, EMU_WIDTH(__VA_ARGS__))

/* atomics: the emulator runs one thread at a time, so a plain read-modify-write is atomic.
 * Only the types CUDA has: add on int, unsigned, unsigned long long, float, double; exch
 * without double; max, min and CAS on the integers only (code using others fails to build
 * here as with nvcc). */
/* EMU_ATOMIC: not instrumented in the racecheck build (an atomic races with nothing) */
#define EMU_ATOMIC static inline __attribute__((no_sanitize_thread))
#define EMU_ATOMIC_ADD_EXCH(T, suffix)                                                             \
    EMU_ATOMIC T emu_atomic_add_##suffix(T *p, T v) { T o = *p; *p = o + v; return o; }             \
    EMU_ATOMIC T emu_atomic_exch_##suffix(T *p, T v) { T o = *p; *p = v; return o; }
#define EMU_ATOMIC_INTEGER(T, suffix)                                                              \
    EMU_ATOMIC_ADD_EXCH(T, suffix)                                                                 \
    EMU_ATOMIC T emu_atomic_max_##suffix(T *p, T v) { T o = *p; if (v > o) *p = v; return o; }     \
    EMU_ATOMIC T emu_atomic_min_##suffix(T *p, T v) { T o = *p; if (v < o) *p = v; return o; }     \
    EMU_ATOMIC T emu_atomic_cas_##suffix(T *p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }
EMU_ATOMIC_INTEGER(int, i)
EMU_ATOMIC_INTEGER(unsigned, u)
EMU_ATOMIC_INTEGER(unsigned long long, ull)
EMU_ATOMIC_ADD_EXCH(float, f)
EMU_ATOMIC double emu_atomic_add_d(double *p, double v) { double o = *p; *p = o + v; return o; }
#define EMU_ATOMIC_INT(op, p)                                                                      \
    _Generic((p), int *: emu_atomic_##op##_i, unsigned *: emu_atomic_##op##_u,                     \
             unsigned long long *: emu_atomic_##op##_ull)
#define atomicAdd(p, v)                                                                            \
    _Generic((p), int *: emu_atomic_add_i, unsigned *: emu_atomic_add_u,                           \
             unsigned long long *: emu_atomic_add_ull, float *: emu_atomic_add_f,                   \
             double *: emu_atomic_add_d)(p, v)
#define atomicExch(p, v)                                                                           \
    _Generic((p), int *: emu_atomic_exch_i, unsigned *: emu_atomic_exch_u,                         \
             unsigned long long *: emu_atomic_exch_ull, float *: emu_atomic_exch_f)(p, v)
#define atomicMax(p, v) EMU_ATOMIC_INT(max, p)(p, v)
#define atomicMin(p, v) EMU_ATOMIC_INT(min, p)(p, v)
#define atomicCAS(p, c, v) EMU_ATOMIC_INT(cas, p)(p, c, v)

#endif
