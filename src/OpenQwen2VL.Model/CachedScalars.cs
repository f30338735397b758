using OpenQwen2VL.Model.Vlm;
using TorchSharp;

namespace OpenQwen2VL.Model;

/// <summary>
/// Scalar constants the networks and training code pass to libtorch, created once and never finalised.
/// Why: a Scalar made on the fly (an implicit `x + 1`, `t / 2`, or the alpha = 1 that Tensor.add(Tensor) and the
/// `+` operator fill in) owns a native c10::Scalar and has a finaliser; once its handle is read the JIT may treat it
/// as dead, and a GC on another thread (our data loaders allocate a lot) can free it while the native op still reads
/// it: the rare "Unknown scalar type" crash (dotnet/TorchSharp PR #1434, #1496).
/// <para>
/// The one convention for holding Scalars: constants live here (a static field keeps them alive); a value known only at
/// run time is a <c>using var s = x.ToScalar();</c> local (alive until the end of its scope). TorchSharp overloads that create a Scalar inside are swapped for the one taking it:
/// <c>a.add(b, alpha: One)</c> for <c>a + b</c>, <c>-(t - One)</c> for <c>1 - t</c>, <c>t.pow(Two)</c> for
/// <c>t.square()</c>. The build enforces it: src/OpenQwen2VL.Analyzers (TemporaryScalarAnalyzer, which also says why an
/// analyzer rather than an ops layer of our own) reports any other form as an error at its line.
/// Integer constants are integral Scalars, exactly what the implicit int conversion produced before.
/// </para>
/// </summary>
public static class CachedScalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    /// <summary>The label the losses skip (HF's -100, <see cref="VlmBatch.IgnoreIndex"/>).</summary>
    public static readonly Scalar IgnoreIndex = VlmBatch.IgnoreIndex.ToScalar();
    /// <summary>log(100), a float: the cap on a contrastive loss's learned temperature (CLIP, SigLIP).</summary>
    /// <summary>-inf, the score of a token that sampling has removed.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();
    public static readonly Scalar LogOf100 = MathF.Log(100f).ToScalar();
}
