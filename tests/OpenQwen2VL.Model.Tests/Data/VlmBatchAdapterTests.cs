using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Model.Data;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Tests.Loading;

[Collection(TorchGlobalState.Name)]
public class VlmBatchAdapterTests
{
    [Fact]
    public void CopiesShapesAndValues()
    {
        var batch = new DataBatch
        {
            BatchSize = 2, SequenceLength = 3, InputIds = [1, -200, 3, 4, 5, 151643], Labels = [1, -100, 3, 4, 5, -100],
            ImageCount = 1, ImageSize = 2, Pixels = Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray(),
            ExampleIds = ["a", "b"], StateAfter = new LoaderState(),
        };
        using var v = batch.ToVlmBatch();
        Assert.Equal([2L, 3L], v.InputIds.shape);
        Assert.Equal(batch.InputIds, v.InputIds.data<long>().ToArray());
        Assert.Equal(VlmBatch.ImageMarker, v.InputIds[0, 1].item<long>());
        Assert.Equal(batch.Labels, v.Labels.data<long>().ToArray());
        Assert.Equal([1L, 3L, 2L, 2L], v.PixelValues!.shape);
        Assert.Equal(batch.Pixels, v.PixelValues.data<float>().ToArray());
        // A copy, not a view: the loader reuses the batch's buffer once the batch is handed back.
        var copied = batch.Pixels.ToArray();
        Array.Fill(batch.Pixels, -1f);
        Assert.Equal(copied, v.PixelValues.data<float>().ToArray());
    }
}
