using CsCheck;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>A stage manifest written to a folder and read back is the same manifest (compared as its JSON).</summary>
public sealed class StageManifestRoundTripProperties
{
    private static readonly Gen<StageManifest> Manifest =
        from kind in Gen.OneOf(StageKinds.Synthetic, StageKinds.Curated, StageKinds.Packed, StageKinds.Run, StageKinds.Model)
        from inputs in Gen.Select(Gen.OneOf(StageKinds.Synthetic, StageKinds.Curated, "shards"), PropertyGen.Text(30)).Array[0, 3]
        from files in Gen.Dictionary(PropertyGen.Name(1, 10), PropertyGen.Text(20))[0, 4]
        from shards in PropertyGen.Text(20).Array[0, 5]
        from prompt in Gen.Frequency((1, Gen.Const((string?)null)), (2, PropertyGen.Text(10).Select(s => (string?)s)))
        from context in Gen.Frequency((1, Gen.Const((int?)null)), (2, Gen.Int[1, 1 << 20].Select(i => (int?)i)))
        select new StageManifest
        {
            Kind = kind, Inputs = [.. inputs.Select(i => new ManifestInput(i.Item1, i.Item2))], Files = files, Shards = [.. shards],
            PromptFormat = prompt, ContextLength = context,
        };

    [Fact]
    public void WhatIsWrittenIsReadBack()
    {
        using var dir = new TempDir();
        int n = 0;
        Manifest.Sample(m =>
        {
            var folder = dir.File($"{Interlocked.Increment(ref n)}");
            m.Write(folder);
            var read = StageManifest.Read(folder);
            Assert.Equal(m.ToJson(), read.ToJson());
            Directory.Delete(folder, recursive: true);
        }, iter: PropertyGen.Iterations);
    }
}
