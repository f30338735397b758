using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Hygiene;

/// <summary>
/// Never called: compiled only so the scanner's own test can check that it flags every hazardous pattern
/// (methods named Flagged_*) and accepts every safe way of holding a Scalar (methods named Kept_*).
/// </summary>
static class TemporaryScalarPatterns
{
    static readonly Scalar Two = 2.0.ToScalar();
    static readonly Scalar One = 1.ToScalar();

    static Tensor Flagged_ImplicitScalarArgument(Tensor t) => t.div(2.0);
    static Tensor Flagged_OperatorWithPrimitive(Tensor t) => t * 2.0;
    static Tensor Flagged_TensorPlusTensor(Tensor a, Tensor b) => a + b;
    static Tensor Flagged_OverloadWithHiddenAlpha(Tensor a, Tensor b) => a.add(b);
    static Tensor Flagged_ToScalarNotHeld(Tensor t) => t.div(2.0.ToScalar());
    static Tensor Flagged_ImplicitTensorArgument(Tensor t) => t.maximum(1.0);

    static nn.Module<Tensor, Tensor> Flagged_ModuleWhoseForwardMakesAScalar() => nn.Softplus();

    static Tensor Flagged_ToScalarInUndisposedLocal(Tensor t)
    {
        var two = 2.0.ToScalar();
        return t.div(two);
    }

    static Tensor Kept_UsingLocal(Tensor t)
    {
        using var two = 2.0.ToScalar();
        return t.div(two);
    }

    static Tensor Kept_StaticField(Tensor t) => t.div(Two);
    static Tensor Kept_ExplicitAlpha(Tensor a, Tensor b) => a.add(b, One);
    static nn.Module<Tensor, Tensor> Kept_ModuleWithPlainForward() => nn.GELU();
}
