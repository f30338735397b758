using OpenQwen2VL.Tests.Checkpoints;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// `oqvl generate --model x.pt --llm DIR` on crafted torch.save files: one line naming the file, exit code 2, before
/// any model is built (so no libtorch here).
/// </summary>
public sealed class HostileReleasedCheckpointTests
{
    public static TheoryData<string, byte[], string> Crafted() => new()
    {
        { "a global to posix.system", CraftedPickle.StateDict(("model", p => p.Global("posix", "system").Op('(').Str("touch pwned").Op('t').Op('R'))), "refusing global posix.system" },
        { "2 million nested lists", new CraftedPickle().Repeat(2_000_000, (byte)'(').Op(']').Repeat(2_000_000, (byte)'l').Op('.').ToArray(), "nested more than 1000 deep" },
        { "a view outside its storage", CraftedPickle.StateDict(("w", p => p.Tensor("0", "FloatStorage", 4, 3, [2], [1]))), "reaches element 4 of a storage of 4" },
    };

    [Theory]
    [MemberData(nameof(Crafted))]
    public void GenerateReportsACraftedCheckpointInOneLine(string what, byte[] pickle, string problem)
    {
        using var dir = new TempDir();
        string pt = dir.File("released.pt");
        CraftedZip.TorchSave(pickle, ("0", new byte[16])).Save(pt);
        string line = CliInvocation.UserError("generate", "--model", pt, "--llm", ReferenceFixtures.File("qwen2"), "--prompt", "hi");
        Assert.True(line.Contains(problem, StringComparison.Ordinal), $"{what}: {line}");
        Assert.Equal(2, line.Split(pt).Length);   // the file named, once
    }
}
