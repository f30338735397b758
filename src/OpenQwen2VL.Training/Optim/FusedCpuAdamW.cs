using System.Numerics;
using System.Runtime.CompilerServices;
using OpenQwen2VL.Training.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Optim;

/// <summary>
/// The CPU path of <see cref="MaskedAdamW"/>: the whole update of one element (decay, both moments, bias-corrected
/// step) in one SIMD pass over parameter, gradient and moments, for all parameters, on the torch thread count.
/// Written by hand because TorchSharp binds neither torch's fused AdamW nor its _foreach ops: the tensor path makes
/// ten passes over memory and ten op dispatches per parameter. Measured with `bench optimizer` (48M parameters in
/// the 48M LM's shapes, 2 threads): see the closing note of issue 17 and the benchmark's table.
/// <para>
/// The arithmetic is the tensor path's, in the same order and in float32: lerp as ATen's vectorised kernel computes it
/// (one fused multiply-add), sqrt, division and the step as separate IEEE operations; the results agree with the tensor
/// path to a few ulps (bit for bit on small tensors; see OptimizerTests). The
/// coefficients (bias corrections in float64, the rest in float32) are those the tensor path derives from its 0-dim
/// tensors. With apply = 0 every coefficient is 0 or 1, so every tensor is left bit-identical.
/// </para>
/// </summary>
internal static unsafe class FusedCpuAdamW
{
    /// <summary>The per-step scalars of the update, as the tensor path rounds them.</summary>
    public readonly record struct Coefficients(float W1, float W2, float Bias2Sqrt, float Eps, float StepSize);

    /// <summary>Elements per work item: small enough to balance two threads, large enough that scheduling is noise.</summary>
    const long ChunkElements = 1 << 16;

    /// <summary>Whether <paramref name="t"/> can be updated here: fp32, contiguous, in CPU memory, under 2 GiB.</summary>
    public static bool Supports(Tensor t) =>
        t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous() && t.numel() <= int.MaxValue / sizeof(float);

    /// <summary>Updates every slot in place; <paramref name="decay"/>[i] is slot i's (1 - lr·wd·apply), or null for none.</summary>
    public static void Step(IReadOnlyList<MaskedAdamW.Slot> slots, IReadOnlyList<Tensor> grads, Coefficients c, IReadOnlyList<float?> decay)
    {
        var work = new List<(int Slot, long Start, long Length)>();
        for (int i = 0; i < slots.Count; i++)
        {
            long n = slots[i].Param.numel();
            for (long s = 0; s < n; s += ChunkElements) work.Add((i, s, Math.Min(ChunkElements, n - s)));
        }
        // Pointers are taken once: libtorch memory does not move, and the tensors outlive the step.
        var pointers = new (IntPtr P, IntPtr G, IntPtr M, IntPtr V)[slots.Count];
        for (int i = 0; i < slots.Count; i++)
            pointers[i] = (CpuTensorPointer.Of(slots[i].Param), CpuTensorPointer.Of(grads[i]), CpuTensorPointer.Of(slots[i].ExpAvg), CpuTensorPointer.Of(slots[i].ExpAvgSq));
        void Run(int k)
        {
            var (slot, start, length) = work[k];
            var (p, g, m, v) = pointers[slot];
            Update((float*)p + start, (float*)g + start, (float*)m + start, (float*)v + start, (int)length, c, decay[slot]);
        }
        int threads = Math.Max(1, get_num_threads());
        if (threads == 1 || work.Count == 1) for (int k = 0; k < work.Count; k++) Run(k);
        else Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, Run);
    }

    static void Update(float* p, float* g, float* m, float* v, int n, Coefficients c, float? decay)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            var w1 = new Vector<float>(c.W1); var w2 = new Vector<float>(c.W2);
            var b2 = new Vector<float>(c.Bias2Sqrt); var eps = new Vector<float>(c.Eps);
            var step = new Vector<float>(c.StepSize); var f = new Vector<float>(decay ?? 1f);
            bool small1 = Math.Abs(c.W1) < 0.5f, small2 = Math.Abs(c.W2) < 0.5f;
            for (; i <= n - width; i += width)
            {
                var pi = Vector.Load(p + i);
                if (decay is not null) pi *= f;
                var gi = Vector.Load(g + i);
                var mi = Lerp(Vector.Load(m + i), gi, w1, small1);
                var vi = Lerp(Vector.Load(v + i), gi * gi, w2, small2);
                var denom = Vector.SquareRoot(vi) / b2 + eps;
                pi -= mi / denom * step;
                mi.Store(m + i); vi.Store(v + i); pi.Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float pi = p[i];
            if (decay is float d) pi *= d;
            float gi = g[i];
            float mi = Lerp(m[i], gi, c.W1), vi = Lerp(v[i], gi * gi, c.W2);
            float denom = MathF.Sqrt(vi) / c.Bias2Sqrt + c.Eps;
            pi -= mi / denom * c.StepSize;
            m[i] = mi; v[i] = vi; p[i] = pi;
        }
    }

    // ATen's lerp: start + w·(end − start) for |w| < 0.5, else end − (1 − w)·(end − start), each one fused multiply-add.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> Lerp(Vector<float> start, Vector<float> end, Vector<float> w, bool small) =>
        small ? Vector.FusedMultiplyAdd(w, end - start, start) : Vector.FusedMultiplyAdd(w - Vector<float>.One, end - start, end);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Lerp(float start, float end, float w) =>
        Math.Abs(w) < 0.5f ? MathF.FusedMultiplyAdd(w, end - start, start) : MathF.FusedMultiplyAdd(w - 1f, end - start, end);
}
