using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Tests.Images;

/// <summary>Many large-but-legal images decoded at once stay within the decode budget, and none waits forever.</summary>
public class PixelBudgetTests
{
    private static void DecodeConcurrently(byte[] png, ImageLimits limits, int count, bool rgbx)
    {
        var ok = new bool[count];
        var work = Task.Run(() => Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (rgbx)
            {
                byte[]? buffer = null;
                ok[i] = ImageDecoder.TryDecodeRgbx(png, limits, ref buffer, out _, out _, out _);
            }
            else ok[i] = ImageDecoder.TryDecode(png, limits, out _, out _);
        }));
        Assert.True(work.Wait(TimeSpan.FromMinutes(2)), "decodes blocked on the budget");
        Assert.All(ok, Assert.True);
        Assert.Equal(0, limits.DecodeBudget.InUseBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConcurrentLargeDecodesNeverExceedTheBudget(bool rgbx)
    {
        var png = TestImages.LargeSolidPng(2000);
        Assert.True(png.Length < 200_000);
        long perImage = (rgbx ? 4L : 7L) * 2000 * 2000;
        var budget = new PixelBudget(2 * perImage + perImage / 2); // room for two at a time
        DecodeConcurrently(png, ImageLimits.Default with { DecodeBudget = budget }, count: 8, rgbx);
        Assert.InRange(budget.PeakBytes, perImage, budget.CapacityBytes);
    }

    [Fact]
    public void AnImageLargerThanTheWholeBudgetStillDecodesAlone()
    {
        var png = TestImages.LargeSolidPng(1500);
        var budget = new PixelBudget(1024 * 1024); // far below one image's 4 x 1500 x 1500 bytes
        DecodeConcurrently(png, ImageLimits.Default with { DecodeBudget = budget }, count: 4, rgbx: false);
        Assert.Equal(budget.CapacityBytes, budget.PeakBytes);
    }

    [Fact]
    public void LeasesFromManyThreadsStayWithinCapacity()
    {
        var budget = new PixelBudget(1000);
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            using var lease = budget.Acquire(100 + i * 7 % 900);
            Thread.SpinWait(1000);
        });
        Assert.InRange(budget.PeakBytes, 1, 1000);
        Assert.Equal(0, budget.InUseBytes);
    }

    [Fact]
    public void DisposingALeaseTwiceGivesItBackOnce()
    {
        var budget = new PixelBudget(100);
        var lease = budget.Acquire(60);
        using var other = budget.Acquire(40);
        lease.Dispose();
        lease.Dispose();
        Assert.Equal(40, budget.InUseBytes);
    }

    [Fact]
    public void TheDefaultLimitsShareTheProcessWideBudget()
    {
        Assert.Same(PixelBudget.Shared, ImageLimits.Default.DecodeBudget);
        Assert.Equal(PixelBudget.DefaultBytes, PixelBudget.Shared.CapacityBytes);
    }
}
