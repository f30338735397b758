using OpenQwen2VL.Training.Checkpoints;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Training;

public class CheckpointStoreTests
{
    [Fact]
    public void KeepsLastKAndNeverExposesPartialWrites()
    {
        using var tmp = new TempDir();
        var store = new CheckpointStore(Path.Combine(tmp.Path, "checkpoints"), keepLast: 2);
        foreach (int s in new[] { 3, 6, 9 }) store.Save(s, d => File.WriteAllText(Path.Combine(d, "x"), s.ToString()));
        Assert.Equal(new[] { 6, 9 }, store.List().Select(c => c.Step));
        Assert.Equal("9", File.ReadAllText(Path.Combine(store.Latest()!.Value.Path, "x")));

        // A writer that fails leaves only its hidden temp folder: Latest() still names step 9.
        Assert.Throws<IOException>(() => store.Save(12, _ => throw new IOException("disk full")));
        Assert.Equal(9, store.Latest()!.Value.Step);
        Assert.Equal(new[] { 6, 9 }, store.List().Select(c => c.Step));
    }
}
