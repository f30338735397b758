using System.Buffers.Binary;
using System.Text;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Writes pickle opcodes by hand, so a test can craft exactly the bytes a hostile file holds (the reader's own
/// encoder does not exist: nothing in the product writes pickles). Also writes a tensor as torch.save does.
/// </summary>
public sealed class CraftedPickle
{
    private readonly MemoryStream _bytes = new();

    public CraftedPickle Op(params byte[] bytes) { _bytes.Write(bytes); return this; }
    public CraftedPickle Op(char c) => Op((byte)c);
    public CraftedPickle Text(string ascii) => Op(Encoding.ASCII.GetBytes(ascii));

    /// <summary>The same opcodes <paramref name="times"/> times.</summary>
    public CraftedPickle Repeat(int times, params byte[] bytes)
    {
        for (int i = 0; i < times; i++) _bytes.Write(bytes);
        return this;
    }

    /// <summary>BINUNICODE.</summary>
    public CraftedPickle Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op('X').U32((uint)b.Length);
        return Op(b);
    }

    /// <summary>BININT1 / BININT2 / BININT, as Python writes ints that fit 32 bits; LONG1 (<see cref="Long1"/>) for the others.</summary>
    public CraftedPickle Int(long v)
    {
        if (v is < int.MinValue or > int.MaxValue) return Long1(v);
        if (v is >= 0 and < 256) return Op((byte)'K', (byte)v);
        if (v is >= 0 and < 65536) { Op('M'); var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); return Op(b); }
        Op('J'); var i = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(i, (int)v); return Op(i);
    }

    /// <summary>LONG1 with the minimal two's-complement little-endian bytes: what Python writes for every int ≥ 2^31.</summary>
    public CraftedPickle Long1(System.Numerics.BigInteger v)
    {
        var b = v.ToByteArray(isUnsigned: false, isBigEndian: false);
        return Op(0x8a, (byte)b.Length).Op(b);
    }

    public CraftedPickle U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return Op(b); }
    public CraftedPickle U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return Op(b); }

    /// <summary>GLOBAL (protocol 2's "c module\nname\n").</summary>
    public CraftedPickle Global(string module, string name) => Text($"c{module}\n{name}\n");

    public CraftedPickle Tuple(params long[] xs)
    {
        if (xs.Length == 0) return Op(')');
        Op('(');
        foreach (var x in xs) Int(x);
        return Op('t');
    }

    /// <summary>
    /// A tensor as torch.save writes it: _rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict()).
    /// <paramref name="numel"/> and <paramref name="offset"/> go through <paramref name="integer"/> (default <see cref="Int"/>), so a test can write them as LONG1.
    /// </summary>
    public CraftedPickle Tensor(string key, string storageClass, long numel, long offset, long[] shape, long[] stride, Func<CraftedPickle, long, CraftedPickle>? integer = null)
    {
        integer ??= (p, v) => p.Int(v);
        Global("torch._utils", "_rebuild_tensor_v2");
        Op('(');
        Op('(').Str("storage").Global("torch", storageClass).Str(key).Str("cpu");
        integer(this, numel).Op('t').Op('Q');
        integer(this, offset).Tuple(shape).Tuple(stride).Op(0x89);
        Global("collections", "OrderedDict").Op(')').Op('R');
        return Op('t').Op('R');
    }

    /// <summary>PROTO 2, then EMPTY_DICT MARK (name, value)... SETITEMS STOP: a state dict of the given values.</summary>
    public static byte[] StateDict(params (string Name, Action<CraftedPickle> Value)[] items)
    {
        var p = new CraftedPickle().Op(0x80, 2).Op('}').Op('(');
        foreach (var (name, value) in items) { p.Str(name); value(p); }
        return p.Op('u').Op('.').ToArray();
    }

    public byte[] ToArray() => _bytes.ToArray();
}
