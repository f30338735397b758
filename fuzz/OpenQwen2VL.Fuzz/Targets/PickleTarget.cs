using System.IO.Compression;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>A raw pickle, as data.pkl of a torch.save archive: opcodes, memo, nesting, globals (only torch's allow-list may appear).</summary>
public sealed class PickleTarget : IFuzzTarget
{
    public string Name => "pickle";
    public string Description => "pickle stream (data.pkl of a torch.save archive), globals restricted to the torch allow-list";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        byte[] data = input.ToArray();
        ExpectedRefusal.Guard(() =>
        {
            object? root = PickleReader.Load(data, pid => pid, allowGlobal: TorchSaveArchive.IsAllowedGlobal);
            // Error messages describe what was read: the description must be bounded and never throw.
            string text = PickleValueText.Describe(root);
            if (text.Length > 10_000) throw new InvariantBrokenException($"a description of {text.Length} characters");
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        yield return ("handmade.pkl", TorchZipTarget.HandmadePickle());
        using var zip = ZipFile.OpenRead(env.Reference("prismatic-checkpoint.pt"));
        var entry = zip.Entries.First(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
        using var s = entry.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        yield return ("prismatic-data.pkl", ms.ToArray());
    }
}
