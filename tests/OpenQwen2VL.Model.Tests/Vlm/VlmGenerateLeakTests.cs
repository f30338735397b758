using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Model;
using TorchSharp;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>Repeated image-conditioned generation on a loaded model (what `oqvl generate` runs) keeps the live tensor count flat.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class VlmGenerateLeakTests
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GenerationWithImagesDoesNotLeak(bool useCache)
    {
        using var loaded = VlmLoaderParityTests.Load(prismatic: true, ModelFixtures.PoolSizes()[0]);
        using var pixels = ModelFixtures.PixelValues();
        using var image = pixels.narrow(0, 0, 1);
        long[] prompt = [loaded.Tokenizer.RequireId("<s>"), VlmBatch.ImageMarker, .. loaded.Tokenizer.Encode("\n").Select(i => (long)i)];
        loaded.Model.Generate(prompt, image, 4, useCache: useCache); // warm-up
        long before = Live;
        for (int i = 0; i < 5; i++) loaded.Model.Generate(prompt, image, 4, useCache: useCache);
        Assert.Equal(before, Live);
    }
}
