using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>Our writer reproduces, byte for byte, the safetensors files HF wrote for the fixtures.</summary>
[Trait("Category", "Parity")]
[Collection(TorchGlobalState.Name)]
public sealed class HfSafetensorsParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oqvl-hf-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static IEnumerable<object[]> FixtureFiles() =>
        Directory.EnumerateFiles(ReferenceFixtures.Dir, "*.safetensors", SearchOption.AllDirectories)
            .Select(f => new object[] { Path.GetRelativePath(ReferenceFixtures.Dir, f) }).OrderBy(f => (string)f[0]);

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void RewritingAnHfFileGivesTheSameBytes(string relative)
    {
        var original = ReferenceFixtures.File(relative);
        var copy = Path.Combine(_dir, "copy.safetensors");
        using (var ck = SafetensorsCheckpoint.Open(original))
        {
            var source = new SafetensorsCheckpointTensors(ck);
            var tensors = source.Names.Select(n => (n, source.Read(n))).ToList();
            try { SafetensorsExport.Save(tensors, copy, metadata: ck.Files[0].Metadata); }
            finally { foreach (var (_, t) in tensors) t.Dispose(); }
        }
        Assert.True(File.ReadAllBytes(original).AsSpan().SequenceEqual(File.ReadAllBytes(copy)), $"{relative} differs from our rewrite");
    }
}
