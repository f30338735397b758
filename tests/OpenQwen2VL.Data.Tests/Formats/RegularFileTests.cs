using OpenQwen2VL.Data.Checkpoints;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Tests.Prompts;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Issue 16: a FIFO or a device under the name of a file oqvl reads whole (a config, a tokenizer, a manifest, a
/// checkpoint) is refused in one line before it is opened; open(2) of a FIFO would block forever. A symlink to a
/// regular file is typed at its target and still read.
/// </summary>
public sealed class RegularFileTests
{
    [Fact]
    public void KindsAreTheKernelsWithSymlinksFollowed()
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo, /dev/zero
        using var dir = new TempDir();
        var fifo = Fifo.Create(dir.File("fifo"));
        File.WriteAllText(dir.File("file"), "{}");
        File.WriteAllBytes(dir.File("empty"), []);
        File.CreateSymbolicLink(dir.File("to-file"), dir.File("file"));
        File.CreateSymbolicLink(dir.File("to-fifo"), fifo);
        File.CreateSymbolicLink(dir.File("dangling"), dir.File("nothing"));

        Assert.Equal(FileKind.Fifo, RegularFile.KindOf(fifo));
        Assert.Equal(FileKind.CharacterDevice, RegularFile.KindOf("/dev/zero"));
        Assert.Equal(FileKind.Regular, RegularFile.KindOf(dir.File("file")));
        Assert.Equal(FileKind.Regular, RegularFile.KindOf(dir.File("empty"))); // size 0 like a FIFO, but a file
        Assert.Equal(FileKind.Regular, RegularFile.KindOf(dir.File("to-file")));
        Assert.Equal(FileKind.Fifo, RegularFile.KindOf(dir.File("to-fifo")));
        Assert.Equal(FileKind.Directory, RegularFile.KindOf(dir.Path));
        Assert.Equal(FileKind.Missing, RegularFile.KindOf(dir.File("nothing")));
        Assert.Equal(FileKind.Missing, RegularFile.KindOf(dir.File("dangling")));
        Assert.Equal(FileKind.Missing, RegularFile.KindOf(dir.File("file/below-a-file")));
    }

    [Fact]
    public void ASymlinkToARegularFileIsReadAtItsTarget()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{\"a\": 1}");
        File.CreateSymbolicLink(dir.File("link.json"), dir.File("config.json"));
        Assert.Equal(File.ReadAllBytes(dir.File("config.json")), BoundedFile.ReadAllBytes(dir.File("link.json"), 100, "a config"));
        Assert.Equal("{\"a\": 1}", BoundedFile.ReadAllText(dir.File("link.json"), 100, "a config"));
    }

    /// <summary>Every reader of a user-named file, each given a FIFO (or a folder holding one under the expected name).</summary>
    public static TheoryData<string, Action<string>> Readers() => new()
    {
        { "config.json", p => BoundedFile.ReadAllBytes(p, 1 << 20, "a model config") },
        { "tokenizer.json", p => BpeTokenizer.Load(p) },
        { "model.safetensors", p => SafetensorsFile.Open(p).Dispose() },
        { "model.safetensors.index.json", p => SafetensorsIndex.Read(p) },
        { "checkpoint.pt", p => TorchSaveArchive.Open(p).Dispose() },
        { "sft.json", p => new LlavaSftReader(new ChatMlPromptBuilder(PromptTestTokenizer.Instance), Path.GetDirectoryName(p)!, 512, 4).Read(p, new SampleStats()).ToList() },
        { StageManifest.FileName, p => StageManifest.Read(Path.GetDirectoryName(p)!) },
        { TrainerState.FileName, p => TrainerState.Load(Path.GetDirectoryName(p)!) },
    };

    [Theory]
    [MemberData(nameof(Readers))]
    public void AFifoIsRefusedInOneLineWithoutBlocking(string name, Action<string> read)
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo
        using var dir = new TempDir();
        var fifo = Fifo.Create(dir.File(name));
        var e = Assert.Throws<InvalidDataException>(() => Fifo.Within(fifo, () => read(fifo)));
        Assert.Contains($"{fifo}: not a regular file (a FIFO, ", e.Message); // the tokenizer adds its own prefix
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ADeviceIsRefusedBeforeItIsRead()
    {
        if (!OperatingSystem.IsLinux()) return;
        var e = Assert.Throws<InvalidDataException>(() => BoundedFile.ReadAllBytes("/dev/zero", 1 << 20, "a model config"));
        Assert.Equal("/dev/zero: not a regular file (a character device, a model config expected)", e.Message);
    }

    [Fact]
    public void TheGuardEndsACallThatBlocksOnTheFifo()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var fifo = Fifo.Create(dir.File("fifo"));
        // An unguarded open, as before the fix: the guard must unblock it and fail instead of hanging.
        Assert.Throws<TimeoutException>(() => Fifo.Within(fifo, () => File.ReadAllBytes(fifo), seconds: 1));
    }
}
