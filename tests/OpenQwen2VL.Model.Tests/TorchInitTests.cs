using static TorchSharp.torch;

namespace OpenQwen2VL.Tests;

[Collection(TorchGlobalState.Name)]
public class TorchInitTests
{
    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        using var a = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var b = a.matmul(a.t());
        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [Fact]
    public void BFloat16AndAutogradWork()
    {
        using var x = ones(3, requires_grad: true);
        using var y = (x * x).sum();
        y.backward();
        Assert.Equal(new float[] { 2, 2, 2 }, x.grad!.data<float>().ToArray());
        using var h = x.detach().to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, h.dtype);
    }
}
