/* The few things the test runner needs from a board: text out, exit, a cycle counter,
 * the bottom of the stack, and a way to read constants that may live in flash (AVR). */
#ifndef BDNN_PLATFORM_H
#define BDNN_PLATFORM_H

#include <stdint.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define VEC_STORAGE PROGMEM
#define VEC_READ_U8(p) pgm_read_byte(p)
#define VEC_READ_I16(p) ((int16_t)pgm_read_word(p))
#define VEC_READ_I32(p) ((int32_t)pgm_read_dword(p))
#define VEC_READ_F32(p) pgm_read_float(p)
#else
#define VEC_STORAGE
#define VEC_READ_U8(p) (*(p))
#define VEC_READ_I16(p) (*(p))
#define VEC_READ_I32(p) (*(p))
#define VEC_READ_F32(p) (*(p))
#endif

void platform_init(void);
/* Writes one character; a '\n' ends (and flushes) the line. */
void platform_putc(char c);
/* Ends the program; on Cortex-M the status becomes QEMU's exit code. */
void platform_exit(int status) __attribute__((noreturn));
/* CPU cycles since platform_init(), or 0 where the board has no cycle counter. */
uint32_t platform_cycles(void);
/* Nonzero when platform_cycles() counts real CPU cycles. */
extern const uint8_t platform_has_cycles;
/* Lowest address the stack may grow down to (end of .bss). */
uint8_t *platform_stack_bottom(void);

/* Empty functions that bracket one inference; an instruction trace counts between them. */
void bdnn_mark_begin(void);
void bdnn_mark_end(void);

#endif
