using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Comparisons with the fixtures README tolerances: |actual - ref| ≤ tol · max(1, |ref|).</summary>
public static class TensorAssert
{
    public static void Close(Tensor expected, Tensor actual, double tol = 1e-4, string what = "tensor")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var r = expected.to(ScalarType.Float64).cpu();
        var a = actual.detach().to(ScalarType.Float64).cpu();
        var excess = (a - r).abs() - tol * r.abs().clamp_min(1.0);
        var worst = excess.max().item<double>();
        var maxErr = (a - r).abs().max().item<double>();
        Assert.True(worst <= 0, $"{what}: max abs error {maxErr:G4} exceeds {tol:G2}·max(1,|ref|)");
    }

    public static void Close(double expected, double actual, double tol, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: {actual} vs reference {expected}");
}
