/* ATmega328P under simavr: text over USART0, cycle counts from Timer1 (prescaler 1). */
#include <stdint.h>

#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>

#include "platform.h"

extern char __heap_start; /* end of .data/.bss (avr-libc linker script) */

const uint8_t platform_has_cycles = 1;

static volatile uint16_t timer1_overflows;

ISR(TIMER1_OVF_vect)
{
    timer1_overflows++;
}

void platform_init(void)
{
    /* USART0 at its fastest rate (U2X, UBRR 0): 8 cycles a bit, so output stays cheap. */
    UBRR0 = 0;
    UCSR0A = (uint8_t)(1u << U2X0);
    UCSR0B = (uint8_t)(1u << TXEN0);
    UCSR0C = (uint8_t)((1u << UCSZ01) | (1u << UCSZ00));
    /* Timer1 free-running at the CPU clock; overflows extend it to 32 bits. */
    TCCR1A = 0;
    TCCR1B = (uint8_t)(1u << CS10);
    TCNT1 = 0;
    TIMSK1 = (uint8_t)(1u << TOIE1);
    sei();
}

void platform_putc(char c)
{
    while (!(UCSR0A & (1u << UDRE0))) {
    }
    UDR0 = (uint8_t)c;
}

void platform_exit(int status)
{
    (void)status; /* simavr always exits 0: the runner prints the status as "D <n>" */
    while (!(UCSR0A & (1u << UDRE0))) {
    }
    /* Sleeping with interrupts off ends the simulation. */
    cli();
    sleep_enable();
    for (;;) {
        sleep_cpu();
    }
}

uint32_t platform_cycles(void)
{
    uint8_t sreg = SREG;
    uint16_t t;
    uint16_t o;
    cli();
    t = TCNT1;
    o = timer1_overflows;
    if ((TIFR1 & (1u << TOV1)) && t < 0x8000u) {
        o++; /* overflowed after cli(), interrupt still pending */
    }
    SREG = sreg;
    return ((uint32_t)o << 16) | t;
}

uint8_t *platform_stack_bottom(void)
{
    return (uint8_t *)&__heap_start;
}

__attribute__((noinline)) void bdnn_mark_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void bdnn_mark_end(void)
{
    __asm__ volatile("" ::: "memory");
}
