using System.Diagnostics;
using System.Numerics;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>The pickle VM on crafted bytes: bounded expansion and depth, refused globals, lengths checked before use.</summary>
public sealed class PickleReaderTests
{
    private static object? Load(byte[] data, PickleLimits? limits = null) =>
        PickleReader.Load(data, pid => pid, allowGlobal: TorchSaveArchive.IsAllowedGlobal, limits: limits);

    private static string Refused(byte[] data, PickleLimits? limits = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(data, limits));
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Length < 300, e.Message);
        return e.Message;
    }

    /// <summary>`K0` then DUP + TUPLE2 n times: a 2n-byte pickle whose tuple tree has 2^n leaves when expanded.</summary>
    private static byte[] SharedTupleTower(int n) => new CraftedPickle().Op(0x80, 2).Op((byte)'K', 0).Repeat(n, (byte)'2', 0x86).Op('.').ToArray();

    [Fact]
    public void SharedTuplesStaySharedAndDescribeInBoundedText()
    {
        var sw = Stopwatch.StartNew();
        var root = Assert.IsType<object?[]>(Load(SharedTupleTower(60)));
        Assert.Same(root[0], root[1]);
        string text = PickleValueText.Describe(root);
        Assert.True(text.Length <= 210, text);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"{sw.Elapsed}");
    }

    [Fact]
    public void SharedReferencesCountAgainstTheValueLimit()
    {
        // 60 levels are 240 counted values (2 pushes + 2 elements each): over a limit of 200, though the file is 124 bytes.
        Assert.Contains("more than 200 values", Refused(SharedTupleTower(60), new PickleLimits(MaxValues: 200)));
        // DUPs onto the stack count too.
        Assert.Contains("values", Refused(new CraftedPickle().Op('N').Repeat(5000, (byte)'2').Op('.').ToArray(), new PickleLimits(MaxValues: 1000)));
    }

    [Fact]
    public void TwoMillionNestedTuplesOrListsAreRefusedAtTheDepthLimit()
    {
        const int n = 2_000_000;
        var tuples = new CraftedPickle().Op(')').Repeat(n, 0x85).Op('.').ToArray();
        Assert.Contains($"nested more than {PickleLimits.Default.MaxDepth} deep", Refused(tuples));
        var lists = new CraftedPickle().Repeat(n, (byte)'(').Op(']').Repeat(n, (byte)'l').Op('.').ToArray();
        Assert.Contains("nested more than", Refused(lists));
        // Within the limit, nesting is fine.
        Assert.NotNull(Load(new CraftedPickle().Op(')').Repeat(PickleLimits.Default.MaxDepth - 1, 0x85).Op('.').ToArray()));
    }

    [Fact]
    public void ListsBuiltDeepByAppendsAreRefusedToo()
    {
        // L = []; 2000 times: L2 = [L]... via MARK-free APPEND of the previous list into a fresh one.
        var p = new CraftedPickle().Op(']');
        for (int i = 0; i < 2000; i++) p.Op((byte)'q', 0).Op(']').Op((byte)'h', 0).Op('a');
        Assert.Contains("nested more than", Refused(p.Op('.').ToArray()));
    }

    [Fact]
    public void ASelfContainingListLoadsAndDescribesInBoundedText()
    {
        var root = Assert.IsType<List<object?>>(Load(new CraftedPickle().Op(']').Op((byte)'q', 0).Op((byte)'h', 0).Op('a').Op('.').ToArray()));
        Assert.Same(root, root[0]);
        Assert.True(PickleValueText.Describe(root).Length <= 210);
    }

    public static TheoryData<string, byte[], string> Globals() => new()
    {
        { "top level", new CraftedPickle().Global("posix", "system").Op('.').ToArray(), "posix.system" },
        { "inside a tuple", new CraftedPickle().Op('(').Int(1).Global("posix", "system").Op('t').Op('.').ToArray(), "posix.system" },
        { "REDUCE target", new CraftedPickle().Global("posix", "system").Op('(').Str("touch /tmp/pwned").Op('t').Op('R').Op('.').ToArray(), "posix.system" },
        { "STACK_GLOBAL", new CraftedPickle().Op(0x80, 4).Str("builtins").Str("eval").Op(0x93).Op('(').Str("1").Op('t').Op('R').Op('.').ToArray(), "builtins.eval" },
        { "INST", new CraftedPickle().Op('(').Str("1").Text("ibuiltins\neval\n").Op('.').ToArray(), "builtins.eval" },
        { "OBJ", new CraftedPickle().Op('(').Global("builtins", "eval").Str("1").Op('o').Op('.').ToArray(), "builtins.eval" },
        { "NEWOBJ", new CraftedPickle().Global("builtins", "eval").Op('(').Str("1").Op('t').Op(0x81).Op('.').ToArray(), "builtins.eval" },
        { "as a dict value", CraftedPickle.StateDict(("w", p => p.Global("posix", "system"))), "posix.system" },
        { "as a storage class", CraftedPickle.StateDict(("w", p => p.Tensor("0", "../posix", 1, 0, [1], [1]))), "torch.../posix" },
    };

    [Theory]
    [MemberData(nameof(Globals))]
    public void GlobalsOutsideTheTorchAllowListAreRefusedWhereverTheyAppear(string where, byte[] pickle, string named)
    {
        string message = Refused(pickle);
        Assert.True(message.Contains($"refusing global {named}", StringComparison.Ordinal), $"{where}: {message}");
    }

    [Fact]
    public void WithoutAnAllowListNoGlobalIsAccepted()
    {
        var e = Assert.Throws<InvalidDataException>(() => PickleReader.Load(new CraftedPickle().Global("collections", "OrderedDict").Op('.').ToArray(), pid => pid));
        Assert.Contains("collections.OrderedDict", e.Message);
    }

    public static TheoryData<string, byte[]> OverlongLengths() => new()
    {
        { "BINUNICODE", new CraftedPickle().Op('X').U32(uint.MaxValue).Text("abc").ToArray() },
        { "SHORT_BINUNICODE", new CraftedPickle().Op(0x8c, 200).Text("abc").ToArray() },
        { "BINUNICODE8", new CraftedPickle().Op(0x8d).U64(ulong.MaxValue).Text("abc").ToArray() },
        { "BINUNICODE8 2^62", new CraftedPickle().Op(0x8d).U64(1UL << 62).Text("abc").ToArray() },
        { "BINSTRING", new CraftedPickle().Op('T').U32(int.MaxValue).Text("abc").ToArray() },
        { "BINSTRING negative", new CraftedPickle().Op('T').U32(uint.MaxValue).Text("abc").ToArray() },
        { "SHORT_BINSTRING", new CraftedPickle().Op((byte)'U', 200).Text("abc").ToArray() },
        { "BINBYTES", new CraftedPickle().Op('B').U32(uint.MaxValue).Text("abc").ToArray() },
        { "SHORT_BINBYTES", new CraftedPickle().Op((byte)'C', 200).Text("abc").ToArray() },
        { "BINBYTES8", new CraftedPickle().Op(0x8e).U64(ulong.MaxValue - 1).Text("abc").ToArray() },
        { "BYTEARRAY8", new CraftedPickle().Op(0x96).U64(1UL << 40).Text("abc").ToArray() },
        { "LONG1", new CraftedPickle().Op(0x8a, 200).Text("abc").ToArray() },
        { "LONG4", new CraftedPickle().Op(0x8b).U32(int.MaxValue).Text("abc").ToArray() },
        { "FRAME", new CraftedPickle().Op(0x80, 4).Op(0x95, 1, 2).ToArray() },
    };

    [Theory]
    [MemberData(nameof(OverlongLengths))]
    public void ADeclaredLengthBeyondTheDataFailsBeforeAllocating(string opcode, byte[] pickle)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        string message = Refused(pickle);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"{opcode} allocated {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
        Assert.True(message.StartsWith("pickle at byte", StringComparison.Ordinal), $"{opcode}: {message}");
    }

    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "DUP on an empty stack", new CraftedPickle().Op('2').Op('.').ToArray() },
        { "DUP right after MARK", new CraftedPickle().Op('N').Op('(').Op('2').Op('.').ToArray() },
        { "PUT with a non-number key", new CraftedPickle().Op('N').Text("pxyz\n").Op('.').ToArray() },
        { "GET with an overflowing key", new CraftedPickle().Text("g99999999999999999999999\n").Op('.').ToArray() },
        { "INT that is no number", new CraftedPickle().Text("I12ab\n").Op('.').ToArray() },
        { "INT of 5000 digits", new CraftedPickle().Text("I" + new string('9', 5000) + "\n").Op('.').ToArray() },
        { "STACK_GLOBAL of non-strings", new CraftedPickle().Int(1).Int(2).Op(0x93).Op('.').ToArray() },
        { "odd SETITEMS", new CraftedPickle().Op('}').Op('(').Str("k").Op('u').Op('.').ToArray() },
        { "BUILD on an empty stack", new CraftedPickle().Op('N').Op('b').Op('.').ToArray() },
        { "no STOP", new CraftedPickle().Op('N').ToArray() },
        { "unknown opcode", new CraftedPickle().Op(0xff).ToArray() },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedOpcodesAreInvalidData(string what, byte[] pickle)
    {
        string message = Refused(pickle);
        Assert.True(message.StartsWith("pickle at byte", StringComparison.Ordinal), $"{what}: {message}");
    }

    [Fact]
    public void Long1ValuesThatFitInt64AreLongs()
    {
        Assert.Equal((1L << 31) + 5, Load(new CraftedPickle().Long1((1L << 31) + 5).Op('.').ToArray()));
        Assert.Equal(-(1L << 40), Load(new CraftedPickle().Long1(-(1L << 40)).Op('.').ToArray()));
        Assert.Equal(long.MaxValue, Load(new CraftedPickle().Long1(long.MaxValue).Op('.').ToArray()));
        Assert.Equal(0L, Load(new CraftedPickle().Op(0x8a, 0).Op('.').ToArray()));
        var big = BigInteger.One << 70;
        Assert.Equal(big, Load(new CraftedPickle().Long1(big).Op('.').ToArray()));
        var four = new CraftedPickle().Op(0x8b).U32(5).Op(7, 0, 0, 0, 1).Op('.').ToArray();
        Assert.Equal((1L << 32) + 7, Load(four));
    }
}
