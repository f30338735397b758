using TorchSharp;

namespace OpenQwen2VL.Model;

/// <summary>
/// Scalar constants the networks and training code pass to libtorch, created once and never finalised.
/// Why: a Scalar made on the fly (an implicit `x + 1`, `t / 2`, or the alpha = 1 that Tensor.add(Tensor) and the
/// `+` operator fill in) owns a native c10::Scalar and has a finaliser; once its handle is read the JIT may treat it
/// as dead, and a GC on another thread (our data loaders allocate a lot) can free it while the native op still reads
/// it: the rare "Unknown scalar type" crash (dotnet/TorchSharp PR #1434, #1496). A static field keeps them alive.
/// Integer constants are integral Scalars, exactly what the implicit int conversion produced before.
/// </summary>
public static class CachedScalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
}
