using System.Text;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Images;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Packing;

/// <summary>
/// Large legal images cost pack decode-budget memory only: the pixels it decodes to validate (scan) and to re-encode
/// (write) are native and freed with their lease, not full-size managed arrays that the GC gives back to the OS late
/// (eight 9400x9400 PNGs once took 3.3 GB under a 512 MiB budget).
/// </summary>
[Collection(AllocationMeasurement.Name)]
public class PackPipelineMemoryTests
{
    [Fact]
    public void LargeImagesAreScannedAndReencodedWithoutFullSizeManagedArrays()
    {
        const int side = 3000, images = 3;
        using var tmp = new TempDir();
        var shard = tmp.File("in-00000.tar");
        var png = TestImages.LargeSolidPng(side);
        using (var w = new WebDatasetWriter(shard))
            for (int i = 0; i < images; i++)
                w.Write($"s{i:D3}", new Dictionary<string, ReadOnlyMemory<byte>>
                {
                    ["png"] = png, ["txt"] = Encoding.UTF8.GetBytes($"a large blue image {i}"), ["json"] = Encoding.UTF8.GetBytes($"{{\"uid\":\"u{i}\"}}"),
                });
        var tokenizer = BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json"));
        var budget = new PixelBudget(PixelBudget.DefaultBytes);
        var options = new PackOptions
        {
            Capacity = 256, VisualTokens = 16, ImageSize = 48, Threads = 2, ImageLimits = ImageLimits.Default with { DecodeBudget = budget },
        };

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var report = new PackPipeline(tokenizer, options).Run([shard], tmp.File("out"));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(images, report.Stats.Kept);
        Assert.Equal(images, report.ReencodedImages);
        Assert.InRange(budget.PeakBytes, 4L * side * side, budget.CapacityBytes); // the images were decoded, under the budget
        Assert.Equal(0, budget.InUseBytes);
        // Six decodes of 9 MP: managed RGBx + RGB buffers would be 6 x 63 MB; less than one byte a pixel of one image is allowed.
        Assert.InRange(allocated, 0, (long)side * side);
    }
}
