using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;

namespace OpenQwen2VL.Tests.Analyzers.TorchSharpIl;

/// <summary>One decoded IL instruction: its opcode and, for token/variable operands, the operand value.</summary>
public readonly record struct IlInstruction(ILOpCode OpCode, int Operand);

/// <summary>
/// Decodes a method body's IL into instructions. The operand size of every opcode comes from the runtime's own
/// table (System.Reflection.Emit.OpCodes, read by reflection), so operand bytes are never mistaken for opcodes.
/// Written by hand because the BCL reads metadata (System.Reflection.Metadata) but has no IL instruction decoder.
/// </summary>
public static class IlInstructionReader
{
    static readonly OperandType?[] OneByte = new OperandType?[256];
    static readonly OperandType?[] TwoByte = new OperandType?[256]; // second byte after the 0xFE prefix

    static IlInstructionReader()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            ushort value = (ushort)op.Value;
            if (op.Size == 1) OneByte[value] = op.OperandType;
            else TwoByte[value & 0xFF] = op.OperandType;
        }
    }

    public static List<IlInstruction> Read(MethodBodyBlock body)
    {
        var reader = body.GetILReader();
        var instructions = new List<IlInstruction>();
        while (reader.RemainingBytes > 0)
        {
            int code = reader.ReadByte();
            OperandType? operandType;
            if (code == 0xFE)
            {
                int second = reader.ReadByte();
                operandType = TwoByte[second];
                code = 0xFE00 | second;
            }
            else operandType = OneByte[code];

            int operand = operandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => reader.ReadByte(),
                OperandType.InlineVar => reader.ReadUInt16(),
                OperandType.InlineI8 or OperandType.InlineR => SkipAndZero(ref reader, 8),
                OperandType.InlineSwitch => SkipAndZero(ref reader, 4 * reader.ReadInt32()),
                null => throw new BadImageFormatException($"unknown IL opcode 0x{code:X} at offset {reader.Offset - 1}"),
                _ => reader.ReadInt32(), // tokens, 32-bit branch targets, int32 and float32 immediates
            };
            instructions.Add(new IlInstruction((ILOpCode)code, operand));
        }
        return instructions;
    }

    static int SkipAndZero(ref BlobReader reader, int bytes)
    {
        reader.Offset += bytes;
        return 0;
    }

    /// <summary>The local slot a ldloc*/stloc* instruction names, or null for any other instruction.</summary>
    public static int? LocalSlot(IlInstruction i, bool store) => (i.OpCode, store) switch
    {
        (ILOpCode.Stloc_0, true) or (ILOpCode.Ldloc_0, false) => 0,
        (ILOpCode.Stloc_1, true) or (ILOpCode.Ldloc_1, false) => 1,
        (ILOpCode.Stloc_2, true) or (ILOpCode.Ldloc_2, false) => 2,
        (ILOpCode.Stloc_3, true) or (ILOpCode.Ldloc_3, false) => 3,
        (ILOpCode.Stloc_s, true) or (ILOpCode.Stloc, true) or (ILOpCode.Ldloc_s, false) or (ILOpCode.Ldloc, false) => i.Operand,
        _ => null,
    };

    public static bool IsCall(ILOpCode op) =>
        op is ILOpCode.Call or ILOpCode.Callvirt or ILOpCode.Newobj or ILOpCode.Ldftn or ILOpCode.Ldvirtftn;
}
